"""Adapters' durable state in the outbox file."""

from __future__ import annotations

from pathlib import Path

from connector.sync.outbox import Outbox


async def test_value_set_survives_reopening_the_file(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    await box.state("amocrm").set("oauth", {"refresh_token": "r-1", "expires": 1.5})
    await box.close()
    box = await Outbox.open(tmp_path / "o.db")
    value = await box.state("amocrm").get("oauth")
    await box.close()
    assert value == {"refresh_token": "r-1", "expires": 1.5}


async def test_set_replaces_the_previous_value(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    state = box.state("amocrm")
    await state.set("oauth", "old")
    await state.set("oauth", "new")
    value = await state.get("oauth")
    await box.close()
    assert value == "new"


async def test_adapters_do_not_see_each_others_keys(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    await box.state("amocrm").set("token", "a")
    value = await box.state("bitrix24").get("token")
    await box.close()
    assert value is None


async def test_deleted_key_reads_as_none(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    state = box.state("amocrm")
    await state.set("token", "a")
    await state.delete("token")
    value = await state.get("token")
    await box.close()
    assert value is None

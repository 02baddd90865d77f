"""Tracking numbers: seeded from `numbering.lines`, renamed by admins only."""

from __future__ import annotations

from tests.unit.analytics.conftest import Server
from tests.unit.analytics.dataset import SITE


async def test_tracking_numbers_are_seeded_from_the_configured_lines(empty: Server) -> None:
    body = await empty.get("/api/crm/tracking-numbers", ext="202")
    assert [(n["number"], n["name"]) for n in body["items"]] == [
        ("+74951110001", "Сайт"), ("+74951110002", "Яндекс.Директ"), ("+74951110003", "Instagram"),
    ]  # fmt: skip


async def test_an_admin_renames_a_tracking_number(empty: Server) -> None:
    url = f"{empty.url}/api/crm/tracking-numbers/{SITE}"
    async with empty.http.patch(url, json={"name": "Сайт (лендинг)"}, headers=empty.auth("200")) as r:
        assert (await r.json())["name"] == "Сайт (лендинг)"


async def test_a_rename_survives_a_restart_seeding_again(empty: Server) -> None:
    from adapters.builtin.campaigns import _READY, ensure_schema

    url = f"{empty.url}/api/crm/tracking-numbers/{SITE}"
    async with empty.http.patch(url, json={"name": "Лендинг"}, headers=empty.auth("200")) as r:
        assert r.status == 200
    _READY.discard(empty.store.db)
    await ensure_schema(empty.store.db, [(SITE, "Сайт")])
    body = await empty.get("/api/crm/tracking-numbers")
    assert body["items"][0]["name"] == "Лендинг"


async def test_a_manager_may_not_rename_a_tracking_number(empty: Server) -> None:
    url = f"{empty.url}/api/crm/tracking-numbers/{SITE}"
    async with empty.http.patch(url, json={"name": "x"}, headers=empty.auth("201")) as r:
        assert r.status == 403


async def test_an_admin_adds_a_tracking_number_in_any_spelling(empty: Server) -> None:
    body = {"number": "8 (495) 111-00-09", "name": "Визитки"}
    async with empty.http.post(
        empty.url + "/api/crm/tracking-numbers", json=body, headers=empty.auth("200")
    ) as r:
        assert (r.status, (await r.json())["number"]) == (201, "+74951110009")

"""`crm-connector outbox status|list|retry|purge` on a real outbox file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from connector import cli
from connector.commands.outbox import duration
from connector.sync.outbox import Outbox
from tests.fakes.recording_adapter import RecordingAdapter, context
from tests.unit.sync.conftest import make_call


def write_config(tmp_path: Path) -> str:
    config = tmp_path / "connector.yaml"
    config.write_text(f"ami:\n  username: crm\n  secret: s\nstorage:\n  dir: {tmp_path}\n", encoding="utf-8")
    return str(config)


def prepare(tmp_path: Path, *, dead: int = 0, pending: int = 0) -> None:
    """An outbox with `dead` dead-lettered calls and `pending` waiting ones (one job each)."""

    async def fill() -> None:
        box = await Outbox.open(tmp_path / "outbox.db")
        crm = RecordingAdapter(context("crm"))
        for n in range(dead + pending):
            await box.record_call(make_call(f"{n}.1", recording=False), [crm])
        for job in await box.claim("crm", "w", 60, limit=dead) if dead else []:
            await box.bury(job, "w", "HTTP 400: phone is invalid")
        await box.close()

    asyncio.run(fill())


def test_status_prints_depth_and_dead_letters_per_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(tmp_path, dead=1, pending=2)
    code = cli.main(["outbox", "-c", write_config(tmp_path), "status", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (status["adapters"]["crm"]["pending"], status["adapters"]["crm"]["dead"]) == (2, 1)


def test_status_check_fails_when_there_are_dead_letters(tmp_path: Path) -> None:
    prepare(tmp_path, dead=1)
    assert cli.main(["outbox", "-c", write_config(tmp_path), "status", "--check"]) == 1


def test_list_dead_shows_the_crm_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare(tmp_path, dead=1, pending=1)
    cli.main(["outbox", "-c", write_config(tmp_path), "list", "--state", "dead", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["state"], r["last_error"]) for r in rows] == [("dead", "HTTP 400: phone is invalid")]


def test_retry_all_dead_requeues_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare(tmp_path, dead=2)
    code = cli.main(["outbox", "-c", write_config(tmp_path), "retry", "--all-dead"])
    assert code == 0
    assert capsys.readouterr().out.startswith("requeued 2 job(s)")


def test_retry_of_an_unknown_id_fails(tmp_path: Path) -> None:
    prepare(tmp_path, pending=1)
    assert cli.main(["outbox", "-c", write_config(tmp_path), "retry", "999"]) == 1


def test_purge_keeps_dead_letters_younger_than_the_age(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(tmp_path, dead=1)
    cli.main(["outbox", "-c", write_config(tmp_path), "purge", "--dead", "--older-than", "1d"])
    assert capsys.readouterr().out.strip() == "deleted 0 dead job(s)"


def test_purge_with_zero_age_deletes_dead_letters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare(tmp_path, dead=1)
    cli.main(["outbox", "-c", write_config(tmp_path), "purge", "--dead", "--older-than", "0"])
    assert capsys.readouterr().out.strip() == "deleted 1 dead job(s)"


def test_enqueue_json_rejects_a_line_that_is_not_a_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "calls.jsonl"
    bad.write_text('{"id": "1.1"}\n', encoding="utf-8")
    code = cli.main(["outbox", "-c", write_config(tmp_path), "enqueue-json", str(bad)])
    assert code == 1
    assert "calls.jsonl:1: not a Call JSON line" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("15m", 900.0), ("12h", 43200.0), ("7d", 604800.0)]
)
def test_durations_read_units(text: str, seconds: float) -> None:
    assert duration(text) == seconds


def test_status_without_an_outbox_file_does_not_create_one(tmp_path: Path) -> None:
    code = cli.main(["outbox", "-c", write_config(tmp_path), "status"])
    assert code == 1
    assert not (tmp_path / "outbox.db").exists()


def test_config_option_may_follow_the_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare(tmp_path, pending=1)
    code = cli.main(["outbox", "status", "--json", "-c", write_config(tmp_path)])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["adapters"]["crm"]["pending"] == 1

"""CDR recovery from a real SQLite file shaped like MikoPBX's cdr.db (table cdr_general)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from connector.ami.cdr import CdrRecovery, SeenLinkedids, call_from_rows
from connector.calls.model import Call, Direction, Disposition
from connector.calls.rules import TrackerRules
from connector.config import CdrRecoverySettings
from connector.crm import MemoryState

SCHEMA = """CREATE TABLE cdr_general (
    id INTEGER PRIMARY KEY AUTOINCREMENT, start TEXT, answer TEXT, endtime TEXT,
    src_chan TEXT, src_num TEXT, dst_chan TEXT, dst_num TEXT, UNIQUEID TEXT, linkedid TEXT,
    did TEXT, disposition TEXT, recordingfile TEXT, from_account TEXT, to_account TEXT,
    dialstatus TEXT, transfer INTEGER, is_app INTEGER, duration INTEGER, billsec INTEGER)"""


def add_row(db: Path, linkedid: str, src: str, dst: str, *, disposition: str, answer: str = "") -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO cdr_general (start, answer, endtime, src_num, dst_num, UNIQUEID, linkedid, did,"
            " disposition, recordingfile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "2025-11-22 13:00:00.000",
                answer,
                "2025-11-22 13:02:00.000",
                src,
                dst,
                linkedid,
                linkedid,
                "74951110001",
                disposition,
                "/monitor/2025/11/22/13/a.mp3" if answer else "",
            ),
        )


@pytest.fixture
def cdr_db(tmp_path: Path) -> Path:
    db = tmp_path / "cdr.db"
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA)
    add_row(
        db, "old.1", "74951234567", "201", disposition="ANSWERED", answer="2025-11-22 13:00:05.000"
    )  # history
    return db


def recovery(db: Path, state: MemoryState, seen: SeenLinkedids, recorded: list[Call]) -> CdrRecovery:
    async def record(call: Call) -> None:
        recorded.append(call)

    settings = CdrRecoverySettings(enabled=True, db_path=db)
    return CdrRecovery(settings, state, record, seen, TrackerRules())


async def test_history_from_before_the_first_run_is_not_imported(cdr_db: Path) -> None:
    recorded: list[Call] = []
    assert await recovery(cdr_db, MemoryState(), SeenLinkedids(), recorded).poll() == []
    assert recorded == []


async def test_only_calls_ami_never_showed_are_recovered(cdr_db: Path) -> None:
    recorded: list[Call] = []
    seen = SeenLinkedids()
    reader = recovery(cdr_db, MemoryState(), seen, recorded)
    await reader.poll()
    seen.add("live.1")
    add_row(cdr_db, "live.1", "74951234567", "202", disposition="ANSWERED", answer="2025-11-22 13:00:05.000")
    add_row(cdr_db, "gap.1", "74957778899", "201", disposition="ANSWERED", answer="2025-11-22 13:00:10.000")
    await reader.poll()
    assert [(c.id, c.direction, c.client, c.disposition, c.answered_by) for c in recorded] == [
        ("gap.1", Direction.INBOUND, "+74957778899", Disposition.ANSWERED, "201")
    ]


async def test_the_cursor_survives_a_restart_so_no_call_is_recovered_twice(cdr_db: Path) -> None:
    recorded: list[Call] = []
    state = MemoryState()
    await recovery(cdr_db, state, SeenLinkedids(), recorded).poll()
    add_row(cdr_db, "gap.1", "74957778899", "201", disposition="NO ANSWER")
    await recovery(cdr_db, state, SeenLinkedids(), recorded).poll()
    await recovery(cdr_db, state, SeenLinkedids(), recorded).poll()  # the daemon restarted
    assert [(c.id, c.disposition) for c in recorded] == [("gap.1", Disposition.MISSED)]


async def test_a_missing_cdr_database_is_never_created(tmp_path: Path) -> None:
    state = MemoryState()
    missing = tmp_path / "absent" / "cdr.db"
    with pytest.raises(sqlite3.OperationalError):
        await recovery(missing, state, SeenLinkedids(), []).poll()
    assert not missing.parent.exists()


async def test_a_call_already_in_the_journal_is_not_recovered_after_a_restart(
    cdr_db: Path, tmp_path: Path
) -> None:
    from connector.sync.outbox import Outbox

    outbox = await Outbox.open(tmp_path / "outbox.db")
    try:
        state = MemoryState()
        recorded: list[Call] = []
        await recovery(cdr_db, state, SeenLinkedids(), recorded).poll()  # the cursor starts
        add_row(
            cdr_db, "done.1", "74951234567", "202", disposition="ANSWERED", answer="2025-11-22 13:00:05.000"
        )
        add_row(
            cdr_db, "gap.1", "74957778899", "201", disposition="ANSWERED", answer="2025-11-22 13:00:10.000"
        )
        journalled_call = call_from_rows(_rows(cdr_db, "done.1"), TrackerRules())
        assert journalled_call is not None
        await outbox.record_call(journalled_call, [])
        # after a restart `seen` is empty: the journal is what says "done.1" was recorded
        reader = CdrRecovery(
            CdrRecoverySettings(enabled=True, db_path=cdr_db), state, _append(recorded), SeenLinkedids(),
            TrackerRules(), journalled=outbox.journalled,
        )  # fmt: skip
        await reader.poll()
    finally:
        await outbox.close()
    assert [c.id for c in recorded] == ["gap.1"]


def _append(recorded: list[Call]) -> Callable[[Call], Awaitable[None]]:
    async def record(call: Call) -> None:
        recorded.append(call)

    return record


def _rows(db: Path, linkedid: str) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM cdr_general WHERE linkedid = ?", (linkedid,)))

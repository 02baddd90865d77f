"""The outbox file itself: WAL, schema version, and clear errors for corrupt or locked files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connector.crm import JobKind
from connector.errors import StorageError
from connector.sync.outbox import Outbox
from connector.sync.schema import MIGRATIONS
from tests.fakes.recording_adapter import RecordingAdapter, context
from tests.unit.sync.conftest import make_call


async def test_new_file_is_in_wal_mode_at_the_latest_schema(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    await box.close()
    with sqlite3.connect(tmp_path / "o.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_jobs_survive_closing_and_reopening(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    await box.record_call(make_call(), [RecordingAdapter(context("crm"))])
    await box.close()
    box = await Outbox.open(tmp_path / "o.db")
    [job] = await box.claim("crm", "w", 60)
    await box.close()
    assert job.kind is JobKind.LOG_CALL


async def test_corrupted_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.write_bytes(b"this is not a database, it was overwritten by accident\n" * 100)
    with pytest.raises(StorageError, match=r"o\.db is corrupted or not an SQLite database"):
        await Outbox.open(path)


async def test_locked_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    await (await Outbox.open(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)  # another process's writer, mid-transaction
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match=r"o\.db is locked by another process"):
            await Outbox.open(path, busy_timeout=0.05)
    finally:
        holder.rollback()
        holder.close()


async def test_write_while_another_writer_holds_the_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = await Outbox.open(path, busy_timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match="locked by another process"):
            await box.record_call(make_call(), [RecordingAdapter(context("crm"))])
    finally:
        holder.rollback()
        holder.close()
        await box.close()


async def test_file_from_a_newer_connector_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="newer connector"):
        await Outbox.open(path)


async def test_unwritable_directory_is_a_clear_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((StorageError, OSError)):
        await Outbox.open(blocker / "o.db")


async def test_quick_check_finds_a_sound_file_sound(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")
    problems = await box.db.check()
    await box.close()
    assert problems == []


def modes_at_commit(statements: list[str], mode: str) -> list[tuple[str, str]]:
    """(PRAGMA synchronous in force, first statement) for each committed transaction."""
    first, found = "", []
    for sql in statements:
        if sql.startswith("PRAGMA synchronous"):
            mode = sql.rsplit(" ", 1)[-1]
        elif sql == "BEGIN IMMEDIATE":
            first = ""
        elif sql == "COMMIT":
            found.append((mode, first))
        elif not first:
            first = sql
    return found


async def test_enqueues_are_fsynced_and_delivery_bookkeeping_is_not(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.db")  # synchronous=full, the default
    [(level,)] = await box.db.fetch("PRAGMA synchronous")
    statements: list[str] = []
    await box.db.conn.set_trace_callback(statements.append)
    crm = RecordingAdapter(context("crm"))
    await box.record_call(make_call("1.1", recording=False), [crm])
    [job] = await box.claim("crm", "w", 60)
    await box.ack(job, "w")
    await box.record_call(make_call("2.1", recording=False), [crm])
    await box.state("crm").set("token", "t")
    await box.close()
    assert [
        (mode, sql.split()[0:3]) for mode, sql in modes_at_commit(statements, {1: "NORMAL", 2: "FULL"}[level])
    ] == [
        ("FULL", ["INSERT", "INTO", "calls"]),
        ("NORMAL", ["SELECT", "j.id,", "j.key,"]),  # the claim
        ("NORMAL", ["UPDATE", "jobs", "SET"]),  # the ack
        ("FULL", ["INSERT", "INTO", "calls"]),  # its sync also covers the ack before it
        ("FULL", ["INSERT", "INTO", "adapter_state"]),
    ]

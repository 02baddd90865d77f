"""A write cancelled while SQLite's BEGIN waits for another writer leaves no transaction open:
the next write still works (a shutdown or a cancelled request must not wedge the CRM)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from adapters.builtin.db import SqliteDatabase


async def test_a_write_cancelled_while_begin_waits_leaves_the_database_usable(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "crm.db")
    await db.open()
    try:
        other = sqlite3.connect(tmp_path / "crm.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock: our BEGIN waits
        waiting = asyncio.create_task(db.write("INSERT INTO settings(key, value) VALUES ('a', '1')"))
        await asyncio.sleep(0.3)
        waiting.cancel()
        other.execute("COMMIT")  # the BEGIN in aiosqlite's thread now goes through
        other.close()
        await asyncio.gather(waiting, return_exceptions=True)
        await db.write("INSERT INTO settings(key, value) VALUES ('b', '2')")
        assert await db.scalar("SELECT count(*) FROM settings WHERE key IN ('a', 'b')") == 1
    finally:
        await db.close()

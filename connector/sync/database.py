"""The outbox's SQLite file: opened in WAL mode, migrated, and every SQLite error made clear.

One aiosqlite connection serves the whole process; an asyncio lock keeps each transaction
whole because coroutines sharing a connection would otherwise interleave inside each other's
`BEGIN … COMMIT`. Transactions are `BEGIN IMMEDIATE` so a writer waits for the lock up front
(`busy_timeout`) instead of failing half-way through.

Durability per transaction: what the outbox promises (an enqueued call, an adapter's token) is
committed with the configured `synchronous` (FULL by default: the WAL is fsynced, so a power cut
loses nothing acknowledged). Delivery bookkeeping (claims, acks, retries) is committed with
NORMAL: written to the WAL, so a killed process (kill -9, OOM) loses none of it, but not fsynced.
A power cut may then roll back the last of those commits, which only sends a job again under the
same idempotency key, as a kill between a CRM's answer and the ack already may. The WAL is
one append-only file read back up to its last valid commit, so a later FULL commit makes every
earlier NORMAL one durable too: a lost ack can never be followed by a kept enqueue.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from connector.errors import StorageError
from connector.sync import integrity
from connector.sync.schema import MIGRATIONS

Synchronous = Literal["normal", "full"]
CORRUPT = re.compile(r"malformed|not a database|corrupt", re.IGNORECASE)


def storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """A `StorageError` that says what is wrong with the file at `path` in words."""
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        reason = "is locked by another process (another connector or an open sqlite3 shell?)"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        reason = "is corrupted or not an SQLite database; move it aside and restart"
    elif "readonly" in lowered or "read-only" in lowered:
        reason = "is read-only for this user"
    elif "disk is full" in lowered or "disk i/o" in lowered:
        reason = "cannot be written: the disk is full or failing (records wait in memory)"
    elif "unable to open" in lowered:
        reason = "cannot be opened (does its directory exist and is it writable?)"
    else:
        reason = "failed"
    return StorageError(f"outbox database {path} {reason}: {text}")


class Database:
    """An open outbox file: serialised transactions and reads over one connection."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self.watch: integrity.Watch | None = None
        self.corruption = ""  # the last "malformed" SQLite reported: /healthz says so
        self.synchronous: Synchronous = "full"  # for durable transactions; bookkeeping uses NORMAL
        self._mode = ""  # the connection's current PRAGMA synchronous

    def damage(self) -> str | None:
        """Why this file can no longer be trusted (removed, replaced, truncated, malformed), or None."""
        if self.corruption:
            return self.corruption
        return self.watch.damage() if self.watch is not None else None

    @classmethod
    async def open(
        cls, path: Path, *, synchronous: Synchronous = "full", busy_timeout: float = 5.0
    ) -> Database:
        """Open (creating if needed) and migrate the file; `StorageError` if it cannot be used."""
        expected = await asyncio.to_thread(integrity.before_open, path)
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"outbox directory {path.parent} cannot be created: {exc.strerror}") from exc
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise storage_error(path, exc) from exc
        db = cls(conn, path)
        try:
            await db._prepare(synchronous, busy_timeout)
            found = await db.fetch("SELECT value FROM outbox_meta WHERE key = 'instance'")
            problems = await db.check()
            instance = str(found[0][0]) if found else ""
            await asyncio.to_thread(integrity.after_open, path, expected, instance, problems)
            db.watch = await asyncio.to_thread(integrity.Watch.of, path)
        except BaseException:
            await conn.close()
            raise
        return db

    async def _prepare(self, synchronous: Synchronous, busy_timeout: float) -> None:
        try:
            self.conn.row_factory = sqlite3.Row
            await self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            rows = await self.conn.execute_fetchall("PRAGMA journal_mode = WAL")
            mode = str(next(iter(rows))[0]).lower()
            if mode != "wal":
                raise StorageError(f"outbox database {self.path} cannot use WAL mode (got {mode})")
            # FULL fsyncs the WAL at each durable commit: a power cut then loses no acknowledged call.
            self.synchronous = synchronous
            await self._set_mode(synchronous)
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc) from exc
        await self._migrate()

    async def _migrate(self) -> None:
        async with self.transaction() as conn:
            rows = await conn.execute_fetchall("PRAGMA user_version")
            version = int(next(iter(rows))[0])
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"outbox database {self.path} has schema v{version}, written by a newer "
                    f"connector; this one knows up to v{len(MIGRATIONS)}"
                )
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {number}")

    async def _set_mode(self, mode: Synchronous) -> None:
        if mode != self._mode:
            await self.conn.execute(f"PRAGMA synchronous = {mode.upper()}")
            self._mode = mode

    @contextlib.asynccontextmanager
    async def transaction(self, *, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction, committed when the block ends, rolled back on error.

        `durable=False` for bookkeeping that a power cut may undo (see the module's docstring).
        """
        async with self._lock:
            try:
                await self._set_mode(self.synchronous if durable else "normal")
                # BEGIN is inside the try: a task cancelled while BEGIN runs must still roll back,
                # or the connection would stay inside a transaction for everyone after it.
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException as exc:
                await self._rollback()
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise

    async def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            await self.conn.execute("ROLLBACK")

    async def fetch(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query."""
        async with self._lock:
            try:
                rows = await self.conn.execute_fetchall(sql, tuple(params))
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return list(rows)

    def _error(self, exc: sqlite3.Error) -> StorageError:
        error = storage_error(self.path, exc)
        if CORRUPT.search(str(exc)):
            self.corruption = str(error)
        return error

    async def check(self) -> list[str]:
        """SQLite's `quick_check`: an empty list when the file is sound."""
        rows = await self.fetch("PRAGMA quick_check")
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        async with self._lock:
            await self.conn.close()

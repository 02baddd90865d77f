"""The built-in CRM's SQLite connection: WAL, foreign keys, the schema, one writer at a time.

Everything goes through aiosqlite so no query blocks the event loop. Writes that span several
statements run under `transaction()`, which holds a lock so two requests never interleave
their statements in one SQLite transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from connector.errors import StorageError

Row = dict[str, Any]
Params = Iterable[Any] | Mapping[str, Any]


def now_iso() -> str:
    """The current UTC time as the store writes it (ISO-8601 with a Z)."""
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """`moment` in the store's text form; sortable as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class NotFoundError(LookupError):
    """The row asked for does not exist (HTTP 404)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind


class ConflictError(ValueError):
    """The change contradicts what is stored, e.g. a number already owned by a client (HTTP 409)."""


class Database:
    """One aiosqlite connection to the built-in CRM database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open (creating if needed) the file and apply the schema."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path)
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            schema = resources.files("adapters.builtin").joinpath("schema.sql").read_text("utf-8")
            await conn.executescript(schema)
            from adapters.builtin.search import fold  # (search imports this module)

            # fold(text): lower case with ё as е, for Cyrillic search (SQLite's LIKE folds ASCII only)
            await conn.create_function("fold", 1, fold, deterministic=True)
            await _add_columns(conn)
            await conn.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"built-in CRM database {self.path}: {exc}") from exc
        self._conn = conn

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def is_open(self) -> bool:
        """Whether `open()` has run (and `close()` has not)."""
        return self._conn is not None

    @property
    def conn(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._conn is None:
            raise StorageError("the built-in CRM database is not open")
        return self._conn

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows of a query as dicts."""
        async with self.conn.execute(sql, _bind(params)) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        async with self.conn.execute(sql, _bind(params)) as cursor:
            row = await cursor.fetchone()
        return dict(row) if row is not None else None

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = await self.fetch_one(sql, params)
        return next(iter(row.values())) if row else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run several writes atomically: commit on success, roll back on any error."""
        async with self._lock:
            conn = self.conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    async def write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns lastrowid."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            return int(cursor.lastrowid or 0)


# Columns added after the first layout: (table, column, definition). Added when missing, so a
# database made by an older version opens unchanged otherwise.
ADDED_COLUMNS = (
    ("deals", "reason", "TEXT NOT NULL DEFAULT ''"),
    ("deals", "stage_since", "TEXT"),
    ("clients", "search", "TEXT NOT NULL DEFAULT ''"),
    ("calls", "reason", "TEXT"),  # why an unanswered call ended so (the tracker's Call.reason)
    ("calls", "pbx", "TEXT NOT NULL DEFAULT ''"),  # the office (connector's pbx_id) that filed it
)
LATE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS calls_reason ON calls(reason, started_at)",
    # Missed calls by reason in the analytics summary: a covering range per direction.
    "CREATE INDEX IF NOT EXISTS calls_report_reason ON calls(direction, started_at, disposition, reason)",
    "CREATE INDEX IF NOT EXISTS deals_board ON deals(pipeline_id, status, stage, created_at)",
    "CREATE INDEX IF NOT EXISTS deals_responsible ON deals(responsible_id, status)",
)


async def _add_columns(conn: aiosqlite.Connection) -> None:
    for table, column, definition in ADDED_COLUMNS:
        async with conn.execute(f"PRAGMA table_info({table})") as cursor:
            names = {row[1] for row in await cursor.fetchall()}
        if column not in names:
            await conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    for sql in LATE_INDEXES:
        await conn.execute(sql)


def calls_visible_to(extensions: tuple[str, ...] | None, alias: str = "k") -> tuple[str, list[Any]]:
    """ " AND ..." limiting calls (`alias`) to those the viewer's extensions took part in (all for None)."""
    if extensions is None:
        return "", []
    marks = ", ".join("?" for _ in extensions) or "NULL"
    sql = (
        f" AND EXISTS (SELECT 1 FROM call_extensions x WHERE x.call_id = {alias}.id"
        f" AND x.extension IN ({marks}))"
    )
    return sql, list(extensions)


def _bind(params: Params) -> tuple[Any, ...] | dict[str, Any]:
    """Positional parameters as a tuple, named ones as a dict (sqlite3 takes either)."""
    return dict(params) if isinstance(params, Mapping) else tuple(params)

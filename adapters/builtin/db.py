"""The built-in CRM's database: one interface, two back ends (SQLite by default, PostgreSQL).

The store's modules call `fetch_all` / `fetch_one` / `scalar` / `write` and, for writes that span
several statements, `transaction()`, which yields a connection with `execute` / `executemany`
(cursors with `lastrowid`, `rowcount`, `fetchone`, `fetchall`). They write SQL once, in SQLite's
dialect with `?` / `:name` placeholders; the PostgreSQL back end (adapters.builtin.db_postgres)
translates it (adapters.builtin.dialect). `open_database` picks the back end from the target: a
path is a SQLite file, a `PostgresTarget` a PostgreSQL database.

SQLite: everything goes through aiosqlite so no query blocks the event loop; `transaction()` holds
a lock so two requests never interleave their statements in one SQLite transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Generator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite

from connector.errors import StorageError
from connector.settings_schema import Secret

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


class StoreRefusedError(Exception):
    """A back end other than SQLite refused a statement (bad data or SQL): not worth a retry."""


class IntegrityViolationError(StoreRefusedError):
    """A back end other than SQLite found a constraint broken (unique, foreign key, check)."""


class BadValueError(StoreRefusedError):
    """A back end other than SQLite cannot hold a value (e.g. PostgreSQL text with a NUL byte)."""


# What callers catch, whichever back end runs: a constraint broken (→ 409 / dead letter), the
# database unreachable or busy (→ 503 / retry later), any refusal (→ dead letter).
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, IntegrityViolationError)
BAD_VALUE_ERRORS: tuple[type[Exception], ...] = (BadValueError,)
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError, StorageError)
REFUSED_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, StoreRefusedError)


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A PostgreSQL database: a `postgresql://user@host:port/name` URL without the password.

    The password comes apart (a `Secret`, from `${ENV}` or `${file:...}` in the YAML) so the URL
    can be logged and shown; `str()` never holds the password.
    """

    url: str
    password: Secret | None = None
    pool_size: int = 4
    files: Path | None = None  # where files beside the database go (mail attachments)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"a PostgreSQL database is a postgresql://... URL, not {parts.scheme!r}")
        if parts.password is not None:
            raise ValueError(
                "put the PostgreSQL password in builtin.database_password (${ENV} or ${file:...}),"
                " not in the URL"
            )
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("the PostgreSQL URL needs a host: postgresql://user@host:5432/crm")
        if not parts.path.strip("/"):
            raise ValueError("the PostgreSQL URL needs a database name: postgresql://user@host:5432/crm")
        if not 1 <= self.pool_size <= 64:
            raise ValueError("the PostgreSQL pool size must be between 1 and 64")

    def __str__(self) -> str:
        return self.url


Target = Path | PostgresTarget


class Cursor(Protocol):
    """What a statement run inside `transaction()` gives back."""

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Iterable[Any]: ...

    async def fetchmany(self, size: int = ...) -> Iterable[Any]: ...


class Pending(Protocol):
    """A statement under way: awaited for its cursor, or entered with `async with`."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(self, *exc: Any) -> Any: ...


class Connection(Protocol):
    """The connection `transaction()` yields: `execute` is awaited or used with `async with`."""

    def execute(self, sql: str, parameters: Any = ...) -> Pending: ...

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Any: ...


class Database(ABC):
    """The built-in CRM database, whichever back end holds it."""

    backend: str  # "sqlite" or "postgresql"

    @property
    def dialect(self) -> str:
        """The SQL dialect the back end speaks natively: "sqlite" or "postgresql"."""
        return self.backend

    def __init__(self, target: Target) -> None:
        self.target = target

    @property
    def key(self) -> str:
        """What names this database in one process (a file's absolute path, or the URL)."""
        if isinstance(self.target, Path):
            return str(self.target.expanduser().absolute())
        return self.target.url

    @property
    def files_dir(self) -> Path:
        """The folder for files kept beside the database (the SQLite file's, or the state dir)."""
        if isinstance(self.target, Path):
            return self.target.parent
        return self.target.files or Path("crm-files").absolute()

    @abstractmethod
    async def open(self) -> None:
        """Connect (creating the database file if needed) and apply the schema."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect (idempotent)."""

    @property
    @abstractmethod
    def is_open(self) -> bool:
        """Whether `open()` has run (and `close()` has not)."""

    @abstractmethod
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows of a query as dicts."""

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = await self.fetch_one(sql, params)
        return next(iter(row.values())) if row else None

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """Run several writes atomically: commit on success, roll back on any error."""

    async def write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns the new row's id (lastrowid)."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            return int(cursor.lastrowid or 0)

    @abstractmethod
    async def columns(self, table: str) -> set[str]:
        """The names of `table`'s columns (empty when there is no such table)."""

    async def add_columns(self, table: str, wanted: Iterable[tuple[str, str]]) -> None:
        """Add each (column, definition) `table` lacks: a database made by an older version upgrades."""
        have = await self.columns(table)
        missing = [(name, definition) for name, definition in wanted if name not in have]
        if missing:
            async with self.transaction() as conn:
                for name, definition in missing:
                    await conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

    @abstractmethod
    async def widen_check(self, table: str, column: str, values: Sequence[str]) -> None:
        """Let `column`'s `CHECK (column IN (...))` take every one of `values`, rows kept: a table made
        by an older version that allowed fewer values upgrades (no-op when it already allows them)."""

    async def apply_script(self, script: str) -> None:
        """Run a schema file (CREATE ... IF NOT EXISTS statements) in one transaction."""
        from adapters.builtin.dialect import split_script

        async with self.transaction() as conn:
            for statement in split_script(script):
                await conn.execute(statement)


def check_in(column: str, values: Sequence[str]) -> str:
    """`CHECK (column IN ('a', 'b'))` as the schema files spell it (values are the code's constants)."""
    if not all(re.fullmatch(r"[a-z_]+", v) for v in values) or not re.fullmatch(r"[a-z_]+", column):
        raise ValueError(f"not a plain name: {column} {values}")
    return f"CHECK ({column} IN ({', '.join(repr(v) for v in values)}))"


def open_database(target: Target) -> Database:
    """The database object for `target` (not yet opened): SQLite for a path, else PostgreSQL."""
    if isinstance(target, PostgresTarget):
        from adapters.builtin.db_postgres import PostgresDatabase

        return PostgresDatabase(target)
    return SqliteDatabase(target)


class SqliteDatabase(Database):
    """One aiosqlite connection to the built-in CRM's SQLite file."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
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
            await conn.executescript(schema_text())
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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Run several writes atomically: commit on success, roll back on any error."""
        async with self._lock:
            conn = self.conn
            # aiosqlite runs BEGIN in its thread, where a cancelled wait does not stop it: a task
            # cancelled while BEGIN waits for another writer must still undo it, or every later
            # transaction fails with "cannot start a transaction within a transaction".
            begin = asyncio.ensure_future(conn.execute("BEGIN IMMEDIATE"))
            try:
                await asyncio.shield(begin)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await begin
                    await conn.rollback()
                raise
            try:
                yield conn
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    async def widen_check(self, table: str, column: str, values: Sequence[str]) -> None:
        """SQLite cannot alter a CHECK: the table is made anew with the wider one and its rows copied,
        foreign keys off meanwhile so the rows that point at it keep pointing (SQLite's procedure)."""
        sql = await self.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        old = re.search(rf"CHECK \({column} IN \([^)]*\)\)", sql or "")
        wanted = check_in(column, values)
        if sql is None or old is None or old.group(0) == wanted:
            return
        # the name as SQLite keeps it: bare as first made, quoted once a table was renamed into it
        made = re.sub(rf'^CREATE TABLE\s+(["`]?){table}\1', f"CREATE TABLE {table}__new", sql, count=1)
        if not made.startswith(f"CREATE TABLE {table}__new"):
            raise StorageError(f"cannot widen {table}.{column}: its CREATE TABLE text is not as expected")
        made = made.replace(old.group(0), wanted)
        async with self._lock:
            conn = self.conn
            kept = [r[0] for r in await conn.execute_fetchall(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger')"
                " AND sql IS NOT NULL", (table,),
            )]  # fmt: skip
            await conn.commit()
            await conn.execute("PRAGMA foreign_keys=OFF")
            try:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    await conn.execute(made)
                    await conn.execute(f"INSERT INTO {table}__new SELECT * FROM {table}")
                    await conn.execute(f"DROP TABLE {table}")
                    await conn.execute(f"ALTER TABLE {table}__new RENAME TO {table}")
                    for statement in kept:
                        await conn.execute(statement)
                    broken = list(await conn.execute_fetchall("PRAGMA foreign_key_check"))
                    if broken:
                        raise StorageError(f"widening {table}.{column} would break {len(broken)} references")
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
            finally:
                await conn.execute("PRAGMA foreign_keys=ON")

    async def columns(self, table: str) -> set[str]:
        """The names of `table`'s columns (empty when there is no such table)."""
        async with self.conn.execute(f"PRAGMA table_info({table})") as cursor:
            return {row[1] for row in await cursor.fetchall()}


def schema_text() -> str:
    """The core schema file (SQLite dialect; the PostgreSQL back end translates it)."""
    return resources.files("adapters.builtin").joinpath("schema.sql").read_text("utf-8")


# Columns added after the first layout: (table, column, definition). Added when missing, so a
# database made by an older version opens unchanged otherwise.
ADDED_COLUMNS = (
    ("deals", "reason", "TEXT NOT NULL DEFAULT ''"),
    ("deals", "stage_since", "TEXT"),
    ("clients", "search", "TEXT NOT NULL DEFAULT ''"),
    ("calls", "reason", "TEXT"),  # why an unanswered call ended so (the tracker's Call.reason)
    ("calls", "pbx", "TEXT NOT NULL DEFAULT ''"),  # the office (connector's pbx_id) that filed it
    ("client_emails", "position", "INTEGER NOT NULL DEFAULT 0"),  # the order they were given in
    ("employees", "pbx", "TEXT NOT NULL DEFAULT ''"),  # the office whose PBX has the phone ('' = ours)
    ("calls", "outcome", "TEXT NOT NULL DEFAULT ''"),  # what came of it, as the employee chose
    ("clients", "archived_at", "TEXT"),  # sent to the archive (manual: «Как удалить клиента»)
    ("clients", "archived_phones", "TEXT NOT NULL DEFAULT ''"),  # its numbers then, for the record
)
# How a SQLite database made before a column fills it (its rowid was the insertion order).
FILL_ADDED = {("client_emails", "position"): "UPDATE client_emails SET position = rowid"}
LATE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS calls_reason ON calls(reason, started_at)",
    # Missed calls by reason in the analytics summary: a covering range per direction.
    "CREATE INDEX IF NOT EXISTS calls_report_reason ON calls(direction, started_at, disposition, reason)",
    "CREATE INDEX IF NOT EXISTS deals_board ON deals(pipeline_id, status, stage, created_at)",
    "CREATE INDEX IF NOT EXISTS deals_responsible ON deals(responsible_id, status)",
    "CREATE INDEX IF NOT EXISTS calls_outcome ON calls(outcome, started_at)",
)


async def _add_columns(conn: aiosqlite.Connection) -> None:
    for table, column, definition in ADDED_COLUMNS:
        async with conn.execute(f"PRAGMA table_info({table})") as cursor:
            names = {row[1] for row in await cursor.fetchall()}
        if column not in names:
            await conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            if (table, column) in FILL_ADDED:
                await conn.execute(FILL_ADDED[table, column])
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

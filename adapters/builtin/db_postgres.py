"""The built-in CRM's database on PostgreSQL (psycopg 3): the scaled setup of docs/scaling.md.

Why psycopg 3 and not asyncpg: the store's modules hold a DB-API shaped connection inside
`transaction()` (`execute` → cursor with `lastrowid`, `rowcount`, `fetchone`; `executemany`), which
psycopg's AsyncConnection already is; psycopg's per-connection adapters let bools and whole
NUMERICs come back as SQLite gives them; COPY serves the migration; it runs on Debian's libpq or
its own binary wheel.

Reads take one of `pool_size` autocommit connections; writes go through one connection under a
lock, as on SQLite (the modules' check-then-write sequences rely on one writer at a time). A read
made by a task inside its own transaction runs on that transaction's connection, so it sees the
transaction's writes as it would on SQLite. Every statement passes through `dialect.to_postgres`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import AdaptContext
from psycopg.adapt import Dumper, Loader
from psycopg.rows import RowMaker
from psycopg.types.numeric import Int8Dumper

from adapters.builtin import dialect
from adapters.builtin.db import (
    ADDED_COLUMNS,
    LATE_INDEXES,
    BadValueError,
    Connection,
    Database,
    IntegrityViolationError,
    Params,
    PostgresTarget,
    Row,
    StoreRefusedError,
    check_in,
    schema_text,
)
from connector.errors import StorageError

CONNECT_TIMEOUT = 10  # seconds to reach the server
STATEMENT_TIMEOUT_MS = 60_000  # no statement holds a connection longer (the reports take < 1 s)
_SCHEMA_LOCK = 0x43524D  # advisory lock: two connectors starting at once create the schema once


class _BoolAsInteger(Dumper):
    """Python bools as SQLite stores them: the store's flags are INTEGER columns (0/1)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class _NumericAsNumber(Loader):
    """NUMERIC (SUM over BIGINT, ROUND) as int when whole, else float: what SQLite returns."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode("ascii")
        if text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        value = Decimal(text)
        return int(value) if value == value.to_integral_value() and "." not in text else float(value)


Buffer = bytes | bytearray | memoryview


class _Record(dict[str, Any]):
    """A row as sqlite3.Row behaves: `row["name"]`, `row[0]`, `tuple(row)` and unpacking give values."""

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.values()))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


def _records(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[_Record]:
    names = [c.name for c in cursor.description or ()]

    def make(values: Sequence[Any]) -> _Record:
        return _Record(zip(names, values, strict=True))

    return make


def _adapt(context: AdaptContext) -> None:
    context.adapters.register_dumper(bool, _BoolAsInteger)
    context.adapters.register_dumper(int, Int8Dumper)
    context.adapters.register_loader("numeric", _NumericAsNumber)


class _Cursor:
    """The outcome of one statement: its rows (read at once), lastrowid and rowcount."""

    def __init__(self, rows: list[_Record], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._next = 0  # the first row not yet fetched
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> _Record | None:
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def fetchall(self) -> list[_Record]:
        return await self.fetchmany(len(self._rows))

    async def fetchmany(self, size: int = 1) -> list[_Record]:
        rows = self._rows[self._next : self._next + size]
        self._next += len(rows)
        return rows


class _Pending:
    """`conn.execute(...)`: awaited, or used as `async with conn.execute(...) as cursor`."""

    def __init__(self, run: Any) -> None:
        self._run = run

    def __await__(self) -> Any:
        return self._run.__await__()

    async def __aenter__(self) -> _Cursor:
        cursor: _Cursor = await self._run
        return cursor

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Connection:
    """A psycopg connection seen as the store's modules use SQLite's (see db.Connection)."""

    def __init__(self, raw: psycopg.AsyncConnection[Any], db: PostgresDatabase) -> None:
        self.raw = raw
        self._db = db

    def execute(self, sql: str, parameters: Any = ()) -> _Pending:
        return _Pending(self._execute(sql, parameters))

    async def _execute(self, sql: str, parameters: Any) -> _Cursor:
        query = dialect.to_postgres(sql)
        if not query:
            return _Cursor([], -1, None)
        returning = await self._db.returns_id(sql)
        if returning:
            query += " RETURNING id"
        with _mapped(query):
            cursor = await self.raw.execute(query, _bind(parameters))
            rows = await cursor.fetchall() if cursor.description else []
        lastrowid = int(rows[0]["id"]) if returning and rows else None
        return _Cursor(rows if not returning else [], cursor.rowcount, lastrowid)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> _Cursor:
        query = dialect.to_postgres(sql)
        batch = [_bind(p) for p in parameters]
        if not query or not batch:
            return _Cursor([], 0, None)
        with _mapped():
            async with self.raw.cursor() as cursor:
                await cursor.executemany(query, batch)
                return _Cursor([], cursor.rowcount, None)


class PostgresDatabase(Database):
    """The built-in CRM database in PostgreSQL."""

    backend = "postgresql"

    def __init__(self, target: PostgresTarget) -> None:
        super().__init__(target)
        self.settings = target
        self._writer: psycopg.AsyncConnection[Any] | None = None
        self._readers: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self._made = 0  # reader connections made (≤ pool_size)
        self._lock = asyncio.Lock()
        self._current: contextvars.ContextVar[_Connection | None] = contextvars.ContextVar(
            f"crm_tx_{id(self)}", default=None
        )
        self._id_tables: dict[str, bool] = {}
        self._all: list[psycopg.AsyncConnection[Any]] = []

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        password = self.settings.password.get() if self.settings.password else None
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.settings.url,
                password=password,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="crm-connector",
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                row_factory=_records,
            )
        except psycopg.Error as exc:  # the message names host and user, never the password
            raise StorageError(f"built-in CRM database {self.settings.url}: {exc}") from exc
        _adapt(conn)
        self._all.append(conn)
        return conn

    async def open(self) -> None:
        """Connect and create (or upgrade) the schema, once even if several connectors start."""
        writer = await self._connect()
        try:
            async with writer.transaction():
                await writer.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in dialect.FUNCTIONS:
                    await writer.execute(statement)
                tx = _Connection(writer, self)
                for statement in dialect.split_script(schema_text()):
                    await tx.execute(statement)
                for table, column, definition in ADDED_COLUMNS:
                    query = f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}"
                    await tx.execute(query)
                for statement in LATE_INDEXES:
                    await tx.execute(statement)
            await self._check_text_folding(writer)
        except BaseException:
            await writer.close()
            self._all.remove(writer)
            raise
        self._writer = writer

    async def _check_text_folding(self, conn: psycopg.AsyncConnection[Any]) -> None:
        cursor = await conn.execute("SELECT fold('Ёлка ИВАН') AS folded")
        row = await cursor.fetchone()
        if row is None or row["folded"] != " елка иван ":
            raise StorageError(
                f"built-in CRM database {self.settings.url}: lower() does not fold Cyrillic; create the"
                " database with a UTF-8 locale (createdb --encoding=UTF8 --locale=C.UTF-8 ...)"
            )

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        self._writer = None
        conns, self._all = self._all, []
        self._readers = asyncio.Queue()
        self._made = 0
        for conn in conns:
            await conn.close()

    @property
    def is_open(self) -> bool:
        """Whether `open()` has run (and `close()` has not)."""
        return self._writer is not None

    def _opened(self) -> psycopg.AsyncConnection[Any]:
        if self._writer is None:
            raise StorageError("the built-in CRM database is not open")
        return self._writer

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[_Connection]:
        current = self._current.get()
        if current is not None:  # inside this task's transaction: see its writes
            yield current
            return
        self._opened()
        if self._readers.empty() and self._made < self.settings.pool_size:
            self._made += 1
            try:
                raw = await self._connect()
            except BaseException:
                self._made -= 1
                raise
        else:
            raw = await self._readers.get()
        try:
            yield _Connection(raw, self)
        finally:
            if raw.closed or raw.broken:
                self._made -= 1
                if raw in self._all:
                    self._all.remove(raw)
            else:
                self._readers.put_nowait(raw)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows of a query as dicts."""
        async with self._reader() as conn:
            cursor = await conn.execute(sql, params)
            return [dict(row) for row in await cursor.fetchall()]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Run several writes atomically: commit on success, roll back on any error."""
        async with self._lock:
            raw = await self._live_writer()
            tx = _Connection(raw, self)
            token = self._current.set(tx)
            try:
                with _mapped():
                    async with raw.transaction():
                        yield tx
            finally:
                self._current.reset(token)

    async def _live_writer(self) -> psycopg.AsyncConnection[Any]:
        """The writer connection, made anew when the server dropped the old one."""
        raw = self._opened()
        if raw.closed or raw.broken:
            if raw in self._all:
                self._all.remove(raw)
            raw = self._writer = await self._connect()
        return raw

    async def columns(self, table: str) -> set[str]:
        """The names of `table`'s columns (empty when there is no such table)."""
        rows = await self.fetch_all(
            "SELECT column_name AS name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (table.lower(),),
        )
        return {str(r["name"]) for r in rows}

    async def add_columns(self, table: str, wanted: Iterable[tuple[str, str]]) -> None:
        """Add each (column, definition) `table` lacks (ADD COLUMN IF NOT EXISTS)."""
        async with self.transaction() as conn:
            for name, definition in wanted:
                await conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {definition}")

    async def widen_check(self, table: str, column: str, values: Sequence[str]) -> None:
        """Replace the column's CHECK constraint with the wider one (rows are checked, none change)."""
        rows = await self.fetch_all(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
            " WHERE conrelid = to_regclass(?) AND contype = 'c'",
            (table,),
        )
        narrow = [
            r for r in rows if f"({column} " in r["def"] and any(f"'{v}'" not in r["def"] for v in values)
        ]
        if not narrow:
            return
        async with self.transaction() as conn:
            for row in narrow:
                await conn.execute(
                    f'ALTER TABLE {table} DROP CONSTRAINT "{row["conname"]}",'
                    f' ADD CONSTRAINT "{row["conname"]}" {check_in(column, values)}'
                )

    async def returns_id(self, sql: str) -> bool:
        """Whether `sql` inserts into a table keyed by an identity `id` (so it gets RETURNING id)."""
        table = dialect.inserted_table(sql)
        if table is None or " returning " in sql.lower():
            return False
        if table not in self._id_tables:
            async with self._reader() as conn:
                cursor = await conn.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND table_name = ? AND column_name = 'id' AND is_identity = 'YES'",
                    (table,),
                )
                self._id_tables[table] = await cursor.fetchone() is not None
        return self._id_tables[table]


class _mapped:
    """psycopg's errors as the store's callers catch them (db.INTEGRITY_ERRORS and the rest)."""

    def __init__(self, query: str = "") -> None:
        self.query = query  # named in a refusal (SQL text only: the values are never shown)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, psycopg.Error):
            return
        if isinstance(exc, pg_errors.IntegrityError):
            raise IntegrityViolationError(str(exc)) from exc
        if isinstance(exc, psycopg.OperationalError | pg_errors.QueryCanceled | pg_errors.LockNotAvailable):
            raise StorageError(f"built-in CRM database unavailable: {exc}") from exc
        if isinstance(exc, psycopg.DataError):
            raise BadValueError(str(exc)) from exc
        raise StoreRefusedError(f"{exc} [in: {self.query[:300]}]") from exc


def _bind(params: Any) -> Sequence[Any] | Mapping[str, Any]:
    """Positional parameters as a tuple, named ones as a dict."""
    if params is None:
        return ()
    return dict(params) if isinstance(params, Mapping) else tuple(params)

"""Copy a built-in CRM from its SQLite file into PostgreSQL: resumable, then verified.

The target gets the whole schema first (opening a `Store` on it), so every table the running
version knows exists there. Tables are copied parents first (foreign keys), each in batches keyed
by `id` (or SQLite's rowid where a table has no `id`); each batch is written with COPY in one
transaction together with its progress marker (`crm_migration`), so a copy stopped anywhere
(Ctrl-C, kill -9, a lost connection) resumes at the first batch not committed and never writes a
row twice. At the end the identity sequences move past the copied ids, and each table is verified:
the same row count and the same checksum (an order-free sum of per-row hashes over the values
both databases give back) on both sides.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from adapters.builtin.db import PostgresTarget
from adapters.builtin.store import Store

BATCH = 5_000
MARKERS = (
    "CREATE TABLE IF NOT EXISTS crm_migration ("
    " tbl TEXT PRIMARY KEY, last_key BIGINT NOT NULL, copied BIGINT NOT NULL, done INTEGER NOT NULL)"
)
_MASK = (1 << 64) - 1


class MigrationError(RuntimeError):
    """The copy cannot go on (a non-empty target, a value PostgreSQL refuses, a mismatch)."""


@dataclass
class TableReport:
    """What one table's copy and check found."""

    table: str
    rows: int = 0
    source_sum: str = ""
    target_sum: str = ""
    target_rows: int = 0

    @property
    def ok(self) -> bool:
        """Counts and checksums agree."""
        return self.rows == self.target_rows and self.source_sum == self.target_sum


@dataclass
class Report:
    """Every table's outcome; `complete` is False when the copy stopped before the end."""

    tables: list[TableReport] = field(default_factory=list)
    complete: bool = True

    @property
    def ok(self) -> bool:
        """Everything copied and verified."""
        return self.complete and all(t.ok for t in self.tables)


Progress = Callable[[str, int], None]


async def migrate(
    source: Path,
    target: PostgresTarget,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
    max_batches: int | None = None,
) -> Report:
    """Copy `source` into `target` (resuming a copy begun before) and verify it.

    `max_batches` stops after that many batches in this run (the tests' stand-in for a crash).
    """
    upgraded = await Store.open(source)  # brings an older file's layout up to date first
    await upgraded.close()
    if not await asyncio.to_thread(_resuming, target):
        made = await Store.open(target)  # the whole schema on the PostgreSQL side
        await made.close()
    return await asyncio.to_thread(_run, source, target, batch, progress, max_batches)


def _resuming(target: PostgresTarget) -> bool:
    """Whether an earlier run began the copy (the schema is there; opening a Store would add rows)."""
    password = target.password.get() if target.password else None
    with psycopg.connect(target.url, password=password, connect_timeout=10, autocommit=True) as pg:
        found = pg.execute("SELECT to_regclass('crm_migration') IS NOT NULL").fetchone()
        return bool(found and found[0])


def _run(
    source: Path, target: PostgresTarget, batch: int, progress: Progress | None, max_batches: int | None
) -> Report:
    password = target.password.get() if target.password else None
    lite = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        with psycopg.connect(target.url, password=password, connect_timeout=10, autocommit=True) as pg:
            job = _Job(lite, pg, batch, progress, max_batches)
            tables = _tables(lite, pg)
            _start(pg, tables)
            report = Report()
            for table, columns, key in tables:
                _copy(job, table, columns, key)
                if job.left == 0:
                    report.complete = False
                    return report
            _move_sequences(pg, tables)
            for table, columns, _key in tables:
                report.tables.append(_verify(lite, pg, table, columns))
            return report
    finally:
        lite.close()


@dataclass
class _Job:
    lite: sqlite3.Connection
    pg: psycopg.Connection[Any]
    batch: int
    progress: Progress | None
    left: int | None  # batches this run may still copy (None: all)


def _tables(lite: sqlite3.Connection, pg: psycopg.Connection[Any]) -> list[tuple[str, list[str], str]]:
    """(table, shared columns, batch key) for each table both sides have, parents first."""
    names = [
        r[0]
        for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    out: list[tuple[str, list[str], str]] = []
    for name in _parents_first(lite, names):
        theirs = {
            r[0]
            for r in pg.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s",
                (name,),
            )
        }
        if not theirs:
            continue  # a SQLite-only table (the search index's shadow tables)
        ours = [r[1] for r in lite.execute(f'PRAGMA table_info("{name}")')]
        columns = [c for c in ours if c in theirs]
        pk = [r[1] for r in lite.execute(f'PRAGMA table_info("{name}")') if r[5]]
        key = "id" if pk == ["id"] and _integer_key(lite, name) else "rowid"
        out.append((name, columns, key))
    return out


def _integer_key(lite: sqlite3.Connection, table: str) -> bool:
    kinds = {r[1]: str(r[2]).upper() for r in lite.execute(f'PRAGMA table_info("{table}")')}
    return kinds.get("id") == "INTEGER"


def _parents_first(lite: sqlite3.Connection, names: Sequence[str]) -> list[str]:
    parents = {
        n: {r[2] for r in lite.execute(f'PRAGMA foreign_key_list("{n}")') if r[2] != n and r[2] in names}
        for n in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:  # a cycle: take the rest as they come (foreign keys are checked per row)
            ready = [n for n in names if n not in ordered]
        ordered.extend(ready)
    return ordered


def _start(pg: psycopg.Connection[Any], tables: Iterable[tuple[str, list[str], str]]) -> None:
    """A new copy empties the target's tables (the defaults Store.open made); a resumed one not."""
    with pg.transaction():
        exists = pg.execute("SELECT to_regclass('crm_migration') IS NOT NULL").fetchone()
        if exists and exists[0]:
            return
        clients = pg.execute(
            "SELECT (SELECT COUNT(*) FROM calls) + (SELECT COUNT(*) FROM clients)"
        ).fetchone()
        if clients and clients[0]:
            raise MigrationError(
                "the PostgreSQL database already holds calls or clients: migrate into an empty database"
            )
        names = ", ".join(t for t, _c, _k in tables)
        pg.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        pg.execute(MARKERS)


def _copy(job: _Job, table: str, columns: list[str], key: str) -> None:
    """Copy the batches of `table` not yet copied (as many as `job.left` allows)."""
    pg = job.pg
    found = pg.execute("SELECT last_key, copied, done FROM crm_migration WHERE tbl = %s", (table,)).fetchone()
    last, copied, done = found if found else (-(1 << 62), 0, 0)
    if done:
        return
    listed = ", ".join(f'"{c}"' for c in columns)
    while job.left is None or job.left > 0:
        rows = job.lite.execute(
            f'SELECT {key}, {listed} FROM "{table}" WHERE {key} > ? ORDER BY {key} LIMIT ?', (last, job.batch)
        ).fetchall()
        with pg.transaction():
            if found is None:  # the table's first batch: nothing but what the schema's defaults made
                pg.execute(f"DELETE FROM {table}")
                found = (last, copied, 0)
            if rows:
                with pg.cursor().copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(_clean(table, row[1:]))
                last, copied = rows[-1][0], copied + len(rows)
            pg.execute(
                "INSERT INTO crm_migration (tbl, last_key, copied, done) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tbl) DO UPDATE SET last_key = excluded.last_key, copied = excluded.copied,"
                " done = excluded.done",
                (table, last, copied, 0 if len(rows) == job.batch else 1),
            )
        if job.progress:
            job.progress(table, copied)
        if job.left is not None:
            job.left -= 1
        if len(rows) < job.batch:
            break


def _clean(table: str, values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise MigrationError(
                f"{table}: a text holds a NUL byte, which PostgreSQL cannot store: {value[:40]!r}"
            )
        out.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
    return out


def _move_sequences(pg: psycopg.Connection[Any], tables: Iterable[tuple[str, list[str], str]]) -> None:
    """Identity columns continue after the highest id copied (as SQLite would)."""
    for table, _columns, key in tables:
        if key != "id":
            continue
        pg.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            f" WHERE pg_get_serial_sequence('{table}', 'id') IS NOT NULL"
        )


def _verify(
    lite: sqlite3.Connection, pg: psycopg.Connection[Any], table: str, columns: list[str]
) -> TableReport:
    listed = ", ".join(f'"{c}"' for c in columns)
    report = TableReport(table)
    report.rows, report.source_sum = _checksum(lite.execute(f'SELECT {listed} FROM "{table}"'))
    with pg.cursor(name=f"verify_{table}") as cursor, pg.transaction():
        cursor.execute(f"SELECT {listed} FROM {table}")
        report.target_rows, report.target_sum = _checksum(cursor)
    return report


def _checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """Row count and an order-free checksum: the sum of each row's 64-bit hash."""
    count = total = 0
    for row in rows:
        text = "\x1f".join(_canonical(v) for v in row)
        total = (
            total + int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest())
        ) & _MASK
        count += 1
    return count, f"{total:016x}"


def _canonical(value: Any) -> str:
    """A value as both databases give it back: numbers by value, NULL apart from ''."""
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)

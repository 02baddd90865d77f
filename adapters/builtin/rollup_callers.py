"""Unique callers from counters: exact for any period, read in rows that do not grow with calls.

"How many different numbers called these lines between a and b" is a distinct count: per-day
counts cannot be added up. For each scope (a set of lines) each caller's distinct local days are
kept as (day, previous day) pairs: a caller counts once in a..b, on its first day there, which is
the one day in a..b whose previous day lies before a. See schema_rollups.sql.

Scopes are what the reports ask about: each tracking number, all of them together (the lines
report's total) and each campaign's numbers; `ensure_scopes` registers and builds them. A save
recounts the days of the caller(s) it touches on the scopes of the call's line, so the counters
stay what a rebuild would compute. An office filter (`?pbx=`) is not kept here: it counts calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any

from adapters.builtin.db import Database

Pair = tuple[int, str]  # (scope id, caller's phone)
_BATCH = 20_000


def normal(number: str) -> str:
    """A line as tracking_numbers spells it: '+' and digits."""
    return "+" + number.lstrip("+")


def scope_key(numbers: Iterable[str]) -> str:
    """The key of a set of lines."""
    return ",".join(sorted({normal(n) for n in numbers}))


def _spellings(key: str) -> list[str]:
    numbers = key.split(",")
    return [*numbers, *(n.lstrip("+") for n in numbers)]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class Days:
    """Stored UTC times → local day ordinals, cached by the minute."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._seen: dict[str, int] = {}

    def of(self, started_at: str) -> int:
        """The local day (date ordinal) of a stored time."""
        minute = started_at[:16]
        found = self._seen.get(minute)
        if found is None:
            moment = datetime.fromisoformat(minute + ":00+00:00").astimezone(self.tz)
            found = self._seen[minute] = moment.date().toordinal()
        return found


def pairs_by_day(days: Iterable[int]) -> list[tuple[int, int]]:
    """(day, previous day or 0) for each distinct day."""
    out: list[tuple[int, int]] = []
    prev = 0
    for day in sorted(set(days)):
        out.append((day, prev))
        prev = day
    return out


async def pairs_of(conn: Any, call_id: str) -> set[Pair]:
    """The (scope, caller) pairs an inbound call on a line counts in (none for other calls)."""
    async with conn.execute(
        "SELECT phone, did FROM calls WHERE id = ? AND direction = 'inbound' AND did IS NOT NULL", (call_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return await pairs_for(conn, row[0], row[1]) if row is not None else set()


async def pairs_for(conn: Any, phone: str, did: str | None) -> set[Pair]:
    """The (scope, caller) pairs an inbound call from `phone` on line `did` counts in."""
    if not did:
        return set()
    async with conn.execute(
        "SELECT scope_id FROM rollup_scope_numbers WHERE number = ?", (normal(did),)
    ) as cursor:
        return {(r[0], phone) for r in await cursor.fetchall()}


async def days_of(conn: Any, pairs: Iterable[Pair], days: Days) -> dict[Pair, list[int]]:
    """Each caller's local days on each scope (through calls_phone: a caller's own calls only)."""
    out: dict[Pair, list[int]] = {}
    for scope_id, phone in pairs:
        async with conn.execute("SELECT key FROM rollup_scopes WHERE id = ?", (scope_id,)) as cursor:
            key = await cursor.fetchone()
        dids = _spellings(key[0]) if key else []
        async with conn.execute(
            "SELECT started_at FROM calls WHERE phone = ? AND direction = 'inbound'"
            f" AND did IN ({_marks(dids)})",
            [phone, *dids],
        ) as cursor:
            out[(scope_id, phone)] = [days.of(r[0]) for r in await cursor.fetchall()]
    return out


async def apply_change(conn: Any, before: dict[Pair, list[int]], after: dict[Pair, list[int]]) -> None:
    """Take away each caller's old days, add the new ones."""
    counts: dict[tuple[int, int, int], int] = {}
    for sign, side in ((-1, before), (1, after)):
        for (scope_id, _), days in side.items():
            for day, prev in pairs_by_day(days):
                counts[(scope_id, day, prev)] = counts.get((scope_id, day, prev), 0) + sign
    await _upsert(conn, counts)


async def _upsert(conn: Any, counts: dict[tuple[int, int, int], int]) -> None:
    await conn.executemany(
        "INSERT INTO rollup_callers (scope_id, day_no, prev_no, calls) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (scope_id, day_no, prev_no)"
        " DO UPDATE SET calls = rollup_callers.calls + excluded.calls",
        [(*k, n) for k, n in counts.items() if n],
    )


async def build_scope(conn: Any, scope_id: int, key: str, days: Days) -> None:
    """Recount one scope from the calls, caller by caller."""
    await conn.execute("DELETE FROM rollup_callers WHERE scope_id = ?", (scope_id,))
    dids = _spellings(key)
    counts: dict[tuple[int, int, int], int] = {}
    phone: str | None = None
    mine: list[int] = []

    def flush() -> None:
        for day, prev in pairs_by_day(mine):
            counts[(scope_id, day, prev)] = counts.get((scope_id, day, prev), 0) + 1

    async with conn.execute(
        f"SELECT phone, started_at FROM calls WHERE direction = 'inbound' AND did IN ({_marks(dids)})"
        " ORDER BY phone",
        dids,
    ) as cursor:
        while rows := await cursor.fetchmany(_BATCH):
            for caller, started_at in rows:
                if caller != phone:
                    flush()
                    phone, mine = caller, []
                mine.append(days.of(started_at))
    flush()
    await _upsert(conn, counts)


async def rebuild_all(conn: Any, tz: tzinfo) -> None:
    """Recount every registered scope (the zone changed, or a full rebuild)."""
    days = Days(tz)
    async with conn.execute("SELECT id, key FROM rollup_scopes") as cursor:
        scopes = list(await cursor.fetchall())
    for scope_id, key in scopes:
        await build_scope(conn, scope_id, key, days)


async def ensure_scopes(db: Database, tz: tzinfo, wanted: Iterable[Iterable[str]]) -> None:
    """Register and build the scopes in `wanted` that are missing; forget those not wanted."""
    keys = {scope_key(numbers) for numbers in wanted} - {""}
    have = {r["key"]: r["id"] for r in await db.fetch_all("SELECT id, key FROM rollup_scopes")}
    if set(have) == keys:
        return
    async with db.transaction() as conn:
        for key, scope_id in have.items():
            if key not in keys:
                await conn.execute("DELETE FROM rollup_callers WHERE scope_id = ?", (scope_id,))
                await conn.execute("DELETE FROM rollup_scope_numbers WHERE scope_id = ?", (scope_id,))
                await conn.execute("DELETE FROM rollup_scopes WHERE id = ?", (scope_id,))
        days = Days(tz)
        for key in sorted(keys - set(have)):
            cursor = await conn.execute("INSERT INTO rollup_scopes (key) VALUES (?)", (key,))
            scope_id = int(cursor.lastrowid or 0)
            await conn.executemany(
                "INSERT INTO rollup_scope_numbers (scope_id, number) VALUES (?, ?)",
                [(scope_id, n) for n in key.split(",")],
            )
            await build_scope(conn, scope_id, key, days)


async def unique(db: Database, numbers: Iterable[str], first: int, last: int) -> int | None:
    """Distinct callers of `numbers` on local days first..last (ordinals); None if not kept."""
    row = await db.fetch_one("SELECT id FROM rollup_scopes WHERE key = ?", (scope_key(numbers),))
    if row is None:
        return None
    value = await db.scalar(
        "SELECT COALESCE(SUM(calls), 0) FROM rollup_callers"
        " WHERE scope_id = ? AND day_no >= ? AND day_no <= ? AND prev_no < ?",
        (row["id"], first, last, first),
    )
    return int(value or 0)

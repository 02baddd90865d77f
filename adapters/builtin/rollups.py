"""Analytics rollups: call counts per local day and month, kept current on every save, rebuildable.

Reports over a year of calls must not read a year of calls. Each filed call adds one to a few
counters (its line, its employee, everyone a missed call rang) under its local day and its local
month; a report then reads whole months plus the odd days at the ends of its period.

Days are the company's calendar days (the analytics time zone), fixed when the rollups are built:
`rollup_state.zone` records the zone, and a report in another zone rebuilds them first. That beats
UTC-hour buckets: 24× fewer rows, and exact for zones whose offset is not a whole hour.
The counters are plain integers (talk time in milliseconds) so a save's "minus the old version,
plus the new one" leaves exactly what a rebuild would compute.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.builtin import rollup_callers
from adapters.builtin.db import Database, now_iso

if TYPE_CHECKING:
    from adapters.builtin.periods import Period

# The columns of `calls` a call's counters depend on (and their order in FACTS_SQL).
FACTS = "direction, did, started_at, disposition, employee, reason, talk_seconds, pbx"
_MISSED_SQL = (
    "SELECT c.started_at, c.pbx, x.extension FROM calls c JOIN call_extensions x ON x.call_id = c.id"
    " WHERE c.direction = 'inbound' AND c.disposition <> 'answered'"
)
_BATCH = 20_000


def zone_key(tz: tzinfo) -> str:
    """A time zone as text that `zone_of` turns back: an IANA name, or a fixed offset in minutes."""
    if isinstance(tz, ZoneInfo):
        return tz.key
    offset = tz.utcoffset(None) or timedelta()
    return f"fixed:{int(offset.total_seconds() // 60)}"


def zone_of(key: str) -> tzinfo:
    """The time zone `zone_key` wrote (UTC for anything unreadable: a rebuild will follow)."""
    if key.startswith("fixed:"):
        return timezone(timedelta(minutes=int(key[6:])))
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


async def ensure_schema(db: Database) -> None:
    """Create the rollup tables (idempotent; the store calls it when it opens)."""
    script = resources.files("adapters.builtin").joinpath("schema_rollups.sql").read_text("utf-8")
    async with db.transaction() as conn:
        for statement in script.split(";"):
            body = "\n".join(x for x in statement.splitlines() if not x.lstrip().startswith("--"))
            if body.strip():
                await conn.execute(body)


async def built_zone(conn: Any) -> tzinfo | None:
    """The zone the rollups count days in, or None when they were never built (nothing to keep)."""
    async with conn.execute("SELECT zone FROM rollup_state WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return zone_of(row[0]) if row else None


@dataclass
class Deltas:
    """Changes to the counters, merged by key, written with one upsert per table."""

    tz: tzinfo
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    employees: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    missed: dict[tuple[str, ...], int] = field(default_factory=dict)
    _days: dict[str, tuple[str, str]] = field(default_factory=dict)

    def day(self, started_at: str) -> tuple[str, str]:
        """The local (day, month) of a stored UTC time, cached by the minute (every zone's offset is)."""
        minute = started_at[:16]
        found = self._days.get(minute)
        if found is None:
            moment = datetime.fromisoformat(minute + ":00+00:00").astimezone(self.tz)
            found = self._days[minute] = (moment.date().isoformat(), moment.strftime("%Y-%m"))
        return found

    def add_call(self, facts: Sequence[Any], sign: int) -> None:
        """Count (sign 1) or uncount (sign -1) one call row: FACTS in order."""
        direction, did, started_at, disposition, employee, reason, talk, pbx = facts
        day, month = self.day(started_at)
        did, pbx, employee = did or "", pbx or "", employee or ""
        talk_ms = round(float(talk or 0) * 1000)
        line_did = did if direction == "inbound" and disposition == "answered" else ""
        for span, key in (("d", day), ("m", month)):
            k = (span, key, pbx, direction, did, disposition, reason or "")
            self.lines[k] = self.lines.get(k, 0) + sign
            if direction == "internal":  # employee results count calls with clients only
                continue
            e = (span, key, pbx, employee, direction, disposition, line_did)
            counts = self.employees.setdefault(e, [0, 0])
            counts[0] += sign
            counts[1] += sign * talk_ms

    def add_missed(self, started_at: str, pbx: str | None, extension: str, sign: int) -> None:
        """Count a missed inbound call for one extension it rang."""
        day, month = self.day(started_at)
        for span, key in (("d", day), ("m", month)):
            k = (span, key, pbx or "", extension)
            self.missed[k] = self.missed.get(k, 0) + sign

    async def apply(self, conn: Any) -> None:
        """Add the changes to the counters (rows that would not change are left alone)."""
        await conn.executemany(
            "INSERT INTO rollup_lines (span, day, pbx, direction, did, disposition, reason, calls)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (span, day, pbx, direction, did, disposition,"
            " reason) DO UPDATE SET calls = rollup_lines.calls + excluded.calls",
            [(*k, n) for k, n in self.lines.items() if n],
        )
        await conn.executemany(
            "INSERT INTO rollup_employees (span, day, pbx, employee, direction, disposition, did, calls,"
            " talk_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (span, day, pbx, employee,"
            " direction, disposition, did) DO UPDATE SET calls = rollup_employees.calls + excluded.calls,"
            " talk_ms = rollup_employees.talk_ms + excluded.talk_ms",
            [(*k, n, ms) for k, (n, ms) in self.employees.items() if n or ms],
        )
        await conn.executemany(
            "INSERT INTO rollup_missed (span, day, pbx, extension, calls) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (span, day, pbx, extension) DO UPDATE SET calls = rollup_missed.calls"
            " + excluded.calls",
            [(*k, n) for k, n in self.missed.items() if n],
        )


async def call_facts(conn: Any, call_id: str) -> tuple[tuple[Any, ...], list[str]] | None:
    """A filed call's counted columns and extensions, or None when it is not filed."""
    async with conn.execute(f"SELECT {FACTS} FROM calls WHERE id = ?", (call_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    async with conn.execute("SELECT extension FROM call_extensions WHERE call_id = ?", (call_id,)) as cursor:
        exts = [r[0] for r in await cursor.fetchall()]
    return tuple(row), exts


def count_call(deltas: Deltas, found: tuple[tuple[Any, ...], list[str]] | None, sign: int) -> None:
    """Add (or take away) one call and its missed-call extensions."""
    if found is None:
        return
    facts, exts = found
    deltas.add_call(facts, sign)
    if facts[0] == "inbound" and facts[3] != "answered":
        for ext in exts:
            deltas.add_missed(facts[2], facts[7], ext, sign)


async def rebuild(db: Database, tz: tzinfo, *, force: bool = True) -> bool:
    """Recount every counter from the calls in zone `tz` (one transaction); False if already current."""
    async with db.transaction() as conn:
        current = await built_zone(conn)
        if not force and current is not None and zone_key(current) == zone_key(tz):
            return False
        deltas = Deltas(tz)
        async with conn.execute(f"SELECT {FACTS} FROM calls") as cursor:
            while rows := await cursor.fetchmany(_BATCH):
                for row in rows:
                    deltas.add_call(tuple(row), 1)
        async with conn.execute(_MISSED_SQL) as cursor:
            while rows := await cursor.fetchmany(_BATCH):
                for started_at, pbx, ext in rows:
                    deltas.add_missed(started_at, pbx, ext, 1)
        for table in ("rollup_lines", "rollup_employees", "rollup_missed"):
            await conn.execute(f"DELETE FROM {table}")
        await deltas.apply(conn)
        await rollup_callers.rebuild_all(conn, tz)
        await conn.execute(
            "INSERT INTO rollup_state (id, zone, built_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET zone = excluded.zone, built_at = excluded.built_at",
            (zone_key(tz), now_iso()),
        )
    return True


async def ensure_current(db: Database, tz: tzinfo) -> None:
    """Build the rollups if they were never built or count days in another zone than `tz`."""
    row = await db.fetch_one("SELECT zone FROM rollup_state WHERE id = 1")
    if row is None or row["zone"] != zone_key(tz):
        await rebuild(db, tz, force=False)


async def unique_callers(db: Database, numbers: Iterable[str], period: Period) -> int | None:
    """Distinct callers of `numbers` in the period from the counters; None when they do not keep
    that set of lines or count days in another zone (the caller then counts the calls)."""
    if await db.scalar("SELECT zone FROM rollup_state WHERE id = 1") != zone_key(period.tz):
        return None
    return await rollup_callers.unique(db, numbers, period.first.toordinal(), period.last.toordinal())


async def ensure_scopes(db: Database, tz: tzinfo) -> None:
    """Keep unique callers for each tracking number, all of them, and each campaign's numbers."""
    numbers = [r["number"] for r in await db.fetch_all("SELECT number FROM tracking_numbers")]
    campaigns: dict[int, list[str]] = {}
    for r in await db.fetch_all("SELECT campaign_id, number FROM campaign_numbers"):
        campaigns.setdefault(r["campaign_id"], []).append(r["number"])
    await rollup_callers.ensure_scopes(db, tz, [*([n] for n in numbers), numbers, *campaigns.values()])


def month_spans(first: Any, last: Any) -> tuple[list[str], list[str]]:
    """The whole months (YYYY-MM) and the remaining days (YYYY-MM-DD) that make up first..last."""
    months: list[str] = []
    days: list[str] = []
    day = first
    while day <= last:
        next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        if day.day == 1 and next_month - timedelta(days=1) <= last:
            months.append(day.strftime("%Y-%m"))
            day = next_month
        else:
            days.append(day.isoformat())
            day += timedelta(days=1)
    return months, days


def _arguments(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.builtin.rollups",
        description="Recount the built-in CRM's analytics rollups from its calls.",
    )
    parser.add_argument("database", type=Path, help="the built-in CRM's SQLite file")
    parser.add_argument("--tz", default="", help="the company's time zone (default: its setting, else UTC)")
    return parser.parse_args(list(argv) if argv is not None else None)


async def _rebuild_file(path: Path, zone: str) -> int:
    from adapters.builtin.board import get_settings
    from adapters.builtin.periods import local_tz
    from adapters.builtin.store import Store

    store = await Store.open(path)
    try:
        name = zone or (await get_settings(store.db))["timezone"]
        try:
            tz = ZoneInfo(name) if name else local_tz()  # the app's default too
        except (ZoneInfoNotFoundError, ValueError):
            print(f"unknown time zone {name!r}", file=sys.stderr)
            return 2
        began = datetime.now(UTC)
        await rebuild(store.db, tz)
        took = (datetime.now(UTC) - began).total_seconds()
        calls = await store.db.scalar("SELECT COUNT(*) FROM calls")
        print(f"rollups rebuilt in {zone_key(tz)} from {calls} calls in {took:.1f} s")
        return 0
    finally:
        await store.close()


def main(argv: Iterable[str] | None = None) -> int:
    """`python -m adapters.builtin.rollups CRM.db [--tz ZONE]`: rebuild after a restore or a bulk load."""
    args = _arguments(argv)
    if not args.database.exists():
        print(f"no such database: {args.database}", file=sys.stderr)
        return 2
    return asyncio.run(_rebuild_file(args.database, args.tz))


if __name__ == "__main__":
    sys.exit(main())

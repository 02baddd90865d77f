"""Tracking numbers (named DIDs) and ad campaigns on them, with the cost of a new lead.

The cost of a new lead for a period (CRM.MP manual, 2.2):
    cost per campaign day × campaign days inside the period / unique incoming callers in the period
where cost per campaign day = budget / campaign days, a campaign is in the period when its days
overlap it, and a campaign with no end date ends today.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any
from weakref import WeakSet

from adapters.builtin import rollups
from adapters.builtin.db import Database, NotFoundError, Row, now_iso
from adapters.builtin.numbers import normalise
from adapters.builtin.periods import Period

Counter = Callable[[Sequence[str], Period], Awaitable[int]]

_READY: WeakSet[Database] = WeakSet()


async def ensure_schema(db: Database, lines: Iterable[tuple[str, str]] = ()) -> None:
    """Create the analytics tables and indexes, and the configured tracking numbers (once per db)."""
    if db in _READY:
        return
    script = resources.files("adapters.builtin").joinpath("schema_analytics.sql").read_text("utf-8")
    # Statement by statement inside one transaction: executescript would commit someone else's.
    async with db.transaction() as conn:
        for statement in _statements(script):
            await conn.execute(statement)
        stamp = now_iso()
        await conn.executemany(
            "INSERT INTO tracking_numbers (number, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(normalise(number), name, stamp) for number, name in lines if normalise(number)],
        )
    _READY.add(db)


def _statements(script: str) -> list[str]:
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    return out


def spellings(numbers: Iterable[str]) -> list[str]:
    """Every way a tracking number may appear in calls.did: with and without the '+'."""
    out: list[str] = []
    for number in numbers:
        bare = number.lstrip("+")
        out += [bare, "+" + bare]
    return out


class TrackingNumbers:
    """The company's tracking numbers and their names."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self) -> list[Row]:
        """Every tracking number, by number."""
        return await self.db.fetch_all("SELECT * FROM tracking_numbers ORDER BY number")

    async def get(self, number: str) -> Row:
        """One tracking number (NotFoundError if absent)."""
        row = await self.db.fetch_one("SELECT * FROM tracking_numbers WHERE number = ?", (number,))
        if row is None:
            raise NotFoundError("tracking number", number)
        return row

    async def add(self, number: str, name: str) -> Row:
        """Add a tracking number, or rename it when it exists."""
        await self.db.write(
            "INSERT INTO tracking_numbers (number, name, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(number) DO UPDATE SET name = excluded.name",
            (number, name, now_iso()),
        )
        return await self.get(number)

    async def rename(self, number: str, name: str) -> Row:
        """Give a tracking number a new name."""
        await self.get(number)
        await self.db.write("UPDATE tracking_numbers SET name = ? WHERE number = ?", (name, number))
        return await self.get(number)


@dataclass(frozen=True, slots=True)
class Spend:
    """What a campaign cost inside a period."""

    campaign_days: int
    days_in_period: int
    spend: float | None  # None when the campaign has no budget


def spend_in(budget: float | None, starts: date, ends: date, period: Period) -> Spend:
    """Budget / campaign days × campaign days inside the period (`ends` already today if active)."""
    campaign_days = max(0, (ends - starts).days + 1)
    inside = period.overlap_days(starts, ends) if campaign_days else 0
    if budget is None:
        return Spend(campaign_days, inside, None)
    spend = budget / campaign_days * inside if campaign_days else 0.0
    return Spend(campaign_days, inside, round(spend, 2))


def lead_cost(spend: float | None, callers: int) -> float | None:
    """Spend / unique incoming callers; None when there is no budget or no caller."""
    if spend is None or callers == 0:
        return None
    return round(spend / callers, 2)


class Campaigns:
    """Ad campaigns on one or more tracking numbers."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, fields: dict[str, Any]) -> Row:
        """Start a campaign: name, tracking numbers, start, optional end and budget."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO campaigns (name, starts_on, ends_on, budget, created_at) VALUES (?, ?, ?, ?, ?)",
                (fields["name"], fields["starts_on"], fields.get("ends_on"), fields.get("budget"), now_iso()),
            )
            campaign_id = int(cursor.lastrowid or 0)
            await _set_numbers(conn, campaign_id, fields["numbers"])
        return await self.get(campaign_id)

    async def get(self, campaign_id: int) -> Row:
        """One campaign with its numbers (NotFoundError if absent)."""
        row = await self.db.fetch_one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        if row is None:
            raise NotFoundError("campaign", campaign_id)
        numbers = await self.db.fetch_all(
            "SELECT number FROM campaign_numbers WHERE campaign_id = ? ORDER BY number", (campaign_id,)
        )
        row["numbers"] = [n["number"] for n in numbers]
        return row

    async def all(self) -> list[Row]:
        """Every campaign with its numbers, newest start first."""
        ids = await self.db.fetch_all("SELECT id FROM campaigns ORDER BY starts_on DESC, id DESC")
        return [await self.get(r["id"]) for r in ids]

    async def update(self, campaign_id: int, changes: dict[str, Any]) -> Row:
        """Edit name, dates, budget or numbers; setting an end date later than today restores it."""
        await self.get(campaign_id)
        fields = {k: v for k, v in changes.items() if k in ("name", "starts_on", "ends_on", "budget")}
        async with self.db.transaction() as conn:
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                await conn.execute(
                    f"UPDATE campaigns SET {sets} WHERE id = ?", [*fields.values(), campaign_id]
                )
            if "numbers" in changes:
                await conn.execute("DELETE FROM campaign_numbers WHERE campaign_id = ?", (campaign_id,))
                await _set_numbers(conn, campaign_id, changes["numbers"])
        return await self.get(campaign_id)

    async def end(self, campaign_id: int, day: date) -> Row:
        """End a campaign on `day` (today): its end date becomes that day."""
        return await self.update(campaign_id, {"ends_on": day.isoformat()})

    async def delete(self, campaign_id: int) -> None:
        """Delete a campaign for good."""
        await self.get(campaign_id)
        await self.db.write("DELETE FROM campaigns WHERE id = ?", (campaign_id,))

    async def in_period(self, period: Period, today: date, callers_of: Counter | None = None) -> list[Row]:
        """Campaigns overlapping `period`, each with spend, unique callers and cost of a new lead.

        `callers_of(numbers, period)` counts unique callers (default: `unique_callers`).
        """
        count = callers_of or (lambda numbers, p: unique_callers(self.db, numbers, p))
        out = []
        for campaign in await self.all():
            starts = date.fromisoformat(campaign["starts_on"])
            ends = date.fromisoformat(campaign["ends_on"]) if campaign["ends_on"] else today
            spend = spend_in(campaign["budget"], starts, ends, period)
            if spend.days_in_period == 0:
                continue
            callers = await count(campaign["numbers"], period)
            out.append(
                {
                    **campaign,
                    "active": campaign["ends_on"] is None,
                    "campaign_days": spend.campaign_days,
                    "days_in_period": spend.days_in_period,
                    "spend": spend.spend,
                    "unique_callers": callers,
                    "lead_cost": lead_cost(spend.spend, callers),
                }
            )
        return out


async def _set_numbers(conn: Any, campaign_id: int, numbers: Sequence[str]) -> None:
    await conn.executemany(
        "INSERT INTO campaign_numbers (campaign_id, number) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(campaign_id, n) for n in numbers],
    )


async def unique_callers(db: Database, numbers: Sequence[str], period: Period) -> int:
    """Distinct numbers that called any of `numbers` (answered or not) within the period."""
    dids = spellings(numbers)
    if not dids:
        return 0
    kept = await rollups.unique_callers(db, numbers, period)  # the counters, when they keep these lines
    return kept if kept is not None else await count_unique_callers(db, numbers, period)


async def count_unique_callers(db: Database, numbers: Sequence[str], period: Period) -> int:
    """Distinct numbers that called any of `numbers` within the period, counted from the calls."""
    dids = spellings(numbers)
    if not dids:
        return 0
    marks = ", ".join("?" for _ in dids)
    value = await db.scalar(
        f"SELECT COUNT(DISTINCT phone) FROM calls WHERE did IN ({marks})"
        " AND started_at >= ? AND started_at < ? AND direction = 'inbound'",
        [*dids, period.since, period.until],
    )
    return int(value or 0)

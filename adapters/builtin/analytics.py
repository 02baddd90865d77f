"""The built-in CRM's reports for a period: summary, sales funnel, employee results, tracking numbers.

Definitions follow the CRM.MP manual (2.6, 2.8): "incoming" means inbound calls, "answered"
those someone answered, "missed" inbound calls nobody answered; tracking numbers are the DIDs in
`tracking_numbers`; the funnel counts only deals closed won or lost within the period, and
success = (closed − lost) / closed. Call figures come from a `CallFigures` source: the rollups
(analytics_rollup.py) for the reports, the calls themselves (analytics_scan.py) as the reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from adapters.builtin.analytics_rollup import RollupFigures
from adapters.builtin.analytics_scan import marks
from adapters.builtin.campaigns import Campaigns, spellings
from adapters.builtin.db import Database, Row, iso
from adapters.builtin.periods import Period, sql_shift

SORT_KEYS = ("answered", "missed", "outgoing", "talk_seconds", "comments", "won", "won_value", "lost")


def percent(part: int, whole: int) -> float:
    """`part` of `whole` in per cent, two decimals (0 when `whole` is 0)."""
    return round(100 * part / whole, 2) if whole else 0.0


async def tracking_dids(db: Database) -> list[str]:
    """Every spelling of every tracking number, for `did IN (...)`."""
    rows = await db.fetch_all("SELECT number FROM tracking_numbers")
    return spellings(r["number"] for r in rows)


# -- summary -------------------------------------------------------------------------------------


class CallFigures(Protocol):
    """Where the reports' call figures come from: the rollups (reports) or the calls (reference)."""

    async def ready(self, tz: tzinfo) -> None: ...
    async def call_totals(self, period: Period, dids: list[str]) -> dict[str, Any]: ...
    async def daily(self, dids: list[str], now: datetime, period: Period) -> list[dict[str, Any]]: ...
    async def calls_by_employee(
        self, period: Period, dids: list[str], extensions: list[str]
    ) -> dict[str, Row]: ...
    async def missed_by_employee(self, period: Period) -> dict[str, int]: ...
    async def line_counts(self, numbers: list[str], period: Period) -> dict[str, Row]: ...
    async def lines_total(self, numbers: list[str], period: Period) -> Row: ...
    async def unique_callers(self, numbers: Sequence[str], period: Period) -> int: ...


async def _figures(db: Database, period: Period, figures: CallFigures | None) -> CallFigures:
    source = figures or RollupFigures(db)
    await source.ready(period.tz)
    return source


async def summary(
    db: Database, period: Period, now: datetime, figures: CallFigures | None = None, pbx: str | None = None
) -> dict[str, Any]:
    """New clients, deals, calls and campaign costs of the period; tracking-number call charts."""
    source = await _figures(db, period, figures)
    dids = await tracking_dids(db)
    # Independent reads: on PostgreSQL each takes its own pooled connection and they overlap.
    campaigns, new_clients, deals, calls, by_hour, by_day = await asyncio.gather(
        Campaigns(db).in_period(period, now.astimezone(period.tz).date(), source.unique_callers),
        _new_clients(db, period),
        _deal_totals(db, period),
        source.call_totals(period, dids),
        hourly(db, dids, now, period, pbx),
        source.daily(dids, now, period),
    )
    spent = [c["spend"] for c in campaigns if c["spend"] is not None]
    return {
        "period": period.as_dict(),
        "new_clients": new_clients,
        "deals": deals,
        "calls": calls,
        "campaigns": {"items": campaigns, "spend": round(sum(spent), 2)},
        "hourly": by_hour,
        "daily": by_day,
    }


async def _new_clients(db: Database, period: Period) -> int:
    value = await db.scalar(
        "SELECT COUNT(*) FROM clients WHERE created_at >= ? AND created_at < ? AND kind = 'client'",
        (period.since, period.until),
    )
    return int(value or 0)


async def _deal_totals(db: Database, period: Period) -> dict[str, Any]:
    created, closed = await asyncio.gather(
        db.scalar(
            "SELECT COUNT(*) FROM deals WHERE created_at >= ? AND created_at < ?",
            (period.since, period.until),
        ),
        db.fetch_one(
            "SELECT COALESCE(SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END), 0) AS won,"
            " COALESCE(SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END), 0) AS lost,"
            " COALESCE(SUM(CASE status WHEN 'won' THEN value ELSE 0 END), 0) AS won_value"
            " FROM deals WHERE closed_at >= ? AND closed_at < ? AND status IN ('won', 'lost')",
            (period.since, period.until),
        ),
    )
    assert closed is not None  # an aggregate always has a row
    return {"created": int(created or 0), **closed, "won_value": round(float(closed["won_value"]), 2)}


async def hourly(
    db: Database, dids: list[str], now: datetime, period: Period, pbx: str | None = None
) -> list[dict[str, Any]]:
    """Incoming calls on tracking numbers in each of the last 24 local hours (oldest first)."""
    # Always from the calls: 24 hours are a bounded range of calls_report_line, whatever the history.
    shift = sql_shift(period.tz, now)
    top = now.astimezone(period.tz).replace(minute=0, second=0, microsecond=0)
    hours = [top - timedelta(hours=n) for n in range(23, -1, -1)]
    counts: dict[str, int] = {}
    if dids:
        office = " AND pbx = ?" if pbx is not None else ""
        rows = await db.fetch_all(
            "SELECT strftime('%Y-%m-%dT%H', started_at, ?) AS bucket, COUNT(*) AS calls FROM calls"
            f" WHERE direction = 'inbound' AND did IN ({marks(dids)}) AND started_at >= ?"
            f" AND started_at < ?{office} GROUP BY bucket",
            [shift, *dids, iso(hours[0]), iso(top + timedelta(hours=1)), *([pbx] if pbx is not None else [])],
        )
        counts = {r["bucket"]: int(r["calls"]) for r in rows}
    return [
        {"hour": h.strftime("%Y-%m-%dT%H:00"), "calls": counts.get(h.strftime("%Y-%m-%dT%H"), 0)}
        for h in hours
    ]


# -- funnel ----------------------------------------------------------------------------------------


async def funnel(db: Database, period: Period, pipeline_id: int | None = None) -> dict[str, Any]:
    """Per pipeline: deals closed in the period (won + lost), lost, won value, success per cent."""
    closed_in = "d.closed_at >= ? AND d.closed_at < ? AND d.status IN ('won', 'lost')"
    only = " AND p.id = ?" if pipeline_id is not None else ""
    params: list[Any] = [period.since, period.until, *([pipeline_id] if pipeline_id is not None else [])]
    rows = await db.fetch_all(
        "SELECT p.id AS pipeline_id, p.name AS pipeline, COUNT(d.id) AS closed,"
        " COALESCE(SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END), 0) AS won,"
        " COALESCE(SUM(CASE WHEN d.status = 'lost' THEN 1 ELSE 0 END), 0) AS lost,"
        " COALESCE(SUM(CASE d.status WHEN 'won' THEN d.value ELSE 0 END), 0) AS won_value"
        f" FROM pipelines p LEFT JOIN deals d ON d.pipeline_id = p.id AND {closed_in}"
        f" WHERE 1 = 1{only} GROUP BY p.id ORDER BY p.id",
        params,
    )
    lost_at = await db.fetch_all(
        "SELECT d.pipeline_id, d.stage, COUNT(*) AS lost"
        " FROM deals d JOIN pipelines p ON p.id = d.pipeline_id"
        f" WHERE {closed_in} AND d.status = 'lost'{only} GROUP BY d.pipeline_id, d.stage",
        params,
    )
    items = [_funnel_row(r, [x for x in lost_at if x["pipeline_id"] == r["pipeline_id"]]) for r in rows]
    closed = sum(i["closed"] for i in items)
    lost = sum(i["lost"] for i in items)
    return {"period": period.as_dict(), "items": items, "total": _success(closed, lost)}


def _funnel_row(row: Row, lost_at: list[Row]) -> Row:
    return {
        **row,
        "won_value": round(float(row["won_value"]), 2),
        "success": _success(row["closed"], row["lost"])["success"],
        "lost_by_stage": {x["stage"]: x["lost"] for x in lost_at},
    }


def _success(closed: int, lost: int) -> dict[str, Any]:
    """(closed − lost) / closed in per cent; None when nothing was closed."""
    return {"closed": closed, "lost": lost, "success": percent(closed - lost, closed) if closed else None}


# -- employee results --------------------------------------------------------------------------------


async def employees(
    db: Database,
    period: Period,
    sort: str = "answered",
    descending: bool = True,
    figures: CallFigures | None = None,
) -> Row:
    """Each employee's calls, talk time, comments and closed deals in the period, ranked by `sort`."""
    source = await _figures(db, period, figures)
    dids = await tracking_dids(db)
    people = await db.fetch_all("SELECT id, name, extension FROM employees ORDER BY extension")
    calls, missed, comments, deals = await asyncio.gather(
        source.calls_by_employee(period, dids, [p["extension"] for p in people]),
        source.missed_by_employee(period),
        _by_key(
            db, "SELECT author_id AS k, COUNT(*) AS n FROM comments WHERE created_at >= ? AND created_at < ?"
            " GROUP BY author_id", period,
        ),
        _deals_by_employee(db, period),
    )  # fmt: skip
    items = [
        _employee_row(p, calls.get(p["extension"]), missed.get(p["extension"], 0), comments, deals)
        for p in people
    ]
    items.sort(key=lambda r: (r[sort], -r["id"] if descending else r["id"]), reverse=descending)
    for rank, row in enumerate(items, 1):
        row["rank"] = rank
    return {
        "period": period.as_dict(),
        "sort": sort,
        "order": "desc" if descending else "asc",
        "items": items,
    }


def _employee_row(
    person: Row, calls: Row | None, missed: int, comments: dict[Any, int], deals: dict[Any, Row]
) -> Row:
    calls = calls or {"answered": 0, "answered_tracking": 0, "outgoing": 0, "talk_seconds": 0}
    closed = deals.get(person["id"], {"won": 0, "won_value": 0, "lost": 0})
    return {
        **person,
        "answered": int(calls["answered"]),
        "answered_tracking": int(calls["answered_tracking"]),
        "answered_direct": int(calls["answered"]) - int(calls["answered_tracking"]),
        "missed": missed,
        "outgoing": int(calls["outgoing"]),
        "talk_seconds": round(float(calls["talk_seconds"])),
        "comments": comments.get(person["id"], 0),
        "won": int(closed["won"]),
        "won_value": round(float(closed["won_value"]), 2),
        "lost": int(closed["lost"]),
    }


async def _by_key(db: Database, sql: str, period: Period) -> dict[Any, int]:
    return {r["k"]: int(r["n"]) for r in await db.fetch_all(sql, (period.since, period.until))}


async def _deals_by_employee(db: Database, period: Period) -> dict[Any, Row]:
    rows = await db.fetch_all(
        "SELECT responsible_id, SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END) AS won,"
        " SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END) AS lost,"
        " SUM(CASE status WHEN 'won' THEN value ELSE 0 END) AS won_value FROM deals"
        " WHERE closed_at >= ? AND closed_at < ? AND status IN ('won', 'lost') GROUP BY responsible_id",
        (period.since, period.until),
    )
    return {r["responsible_id"]: r for r in rows}


# -- incoming calls per tracking number -----------------------------------------------------------


async def lines(db: Database, period: Period, figures: CallFigures | None = None) -> dict[str, Any]:
    """Per tracking number: calls, answered, % answered, unique callers; the total and average rows."""
    source = await _figures(db, period, figures)
    numbers = await db.fetch_all("SELECT number, name FROM tracking_numbers ORDER BY number")
    counts = await source.line_counts([n["number"] for n in numbers], period)
    items = [
        {**n, **row, "answered_percent": percent(row["answered"], row["calls"])}
        for n in numbers
        for row in [counts.get(n["number"], {"calls": 0, "answered": 0, "unique_callers": 0})]
    ]
    items.sort(key=lambda r: (-r["calls"], r["number"]))
    return {
        "period": period.as_dict(),
        "items": items,
        "total": _with_percent(await source.lines_total([n["number"] for n in numbers], period)),
        "average": _average(items),
    }


def _with_percent(row: Row) -> Row:
    return {**row, "answered_percent": percent(row["answered"], row["calls"])}


def _average(items: list[Row]) -> Row:
    """The mean of each column over the numbers (the % column is the mean of the percentages)."""
    count = len(items)
    if not count:
        return {"calls": 0, "answered": 0, "answered_percent": 0.0, "unique_callers": 0}
    return {
        key: round(sum(float(i[key]) for i in items) / count, 2)
        for key in ("calls", "answered", "answered_percent", "unique_callers")
    }

"""The built-in CRM's reports for a period: summary, sales funnel, employee results, tracking numbers.

Definitions follow the CRM.MP manual (2.6, 2.8): "incoming" means inbound calls, "answered"
those someone answered, "missed" inbound calls nobody answered; tracking numbers are the DIDs in
`tracking_numbers`; the funnel counts only deals closed won or lost within the period, and
success = (closed − lost) / closed. Each report is a few grouped queries over covering indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.builtin.campaigns import Campaigns, spellings
from adapters.builtin.db import Database, Row, iso
from adapters.builtin.periods import Period, sql_shift

SORT_KEYS = ("answered", "missed", "outgoing", "talk_seconds", "comments", "won", "won_value", "lost")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def percent(part: int, whole: int) -> float:
    """`part` of `whole` in per cent, two decimals (0 when `whole` is 0)."""
    return round(100 * part / whole, 2) if whole else 0.0


async def tracking_dids(db: Database) -> list[str]:
    """Every spelling of every tracking number, for `did IN (...)`."""
    rows = await db.fetch_all("SELECT number FROM tracking_numbers")
    return spellings(r["number"] for r in rows)


# -- summary -------------------------------------------------------------------------------------


async def summary(db: Database, period: Period, now: datetime) -> dict[str, Any]:
    """New clients, deals, calls and campaign costs of the period; tracking-number call charts."""
    dids = await tracking_dids(db)
    campaigns = await Campaigns(db).in_period(period, now.astimezone(period.tz).date())
    spent = [c["spend"] for c in campaigns if c["spend"] is not None]
    return {
        "period": period.as_dict(),
        "new_clients": await _new_clients(db, period),
        "deals": await _deal_totals(db, period),
        "calls": await _call_totals(db, period, dids),
        "campaigns": {"items": campaigns, "spend": round(sum(spent), 2)},
        "hourly": await hourly(db, dids, now, period),
        "daily": await daily(db, dids, now, period),
    }


async def _new_clients(db: Database, period: Period) -> int:
    value = await db.scalar(
        "SELECT COUNT(*) FROM clients WHERE created_at >= ? AND created_at < ? AND kind = 'client'",
        (period.since, period.until),
    )
    return int(value or 0)


async def _deal_totals(db: Database, period: Period) -> dict[str, Any]:
    created = await db.scalar(
        "SELECT COUNT(*) FROM deals WHERE created_at >= ? AND created_at < ?", (period.since, period.until)
    )
    closed = await db.fetch_one(
        "SELECT COALESCE(SUM(status = 'won'), 0) AS won, COALESCE(SUM(status = 'lost'), 0) AS lost,"
        " COALESCE(SUM(CASE status WHEN 'won' THEN value ELSE 0 END), 0) AS won_value"
        " FROM deals WHERE closed_at >= ? AND closed_at < ? AND status IN ('won', 'lost')",
        (period.since, period.until),
    )
    assert closed is not None  # an aggregate always has a row
    return {"created": int(created or 0), **closed, "won_value": round(float(closed["won_value"]), 2)}


async def _call_totals(db: Database, period: Period, dids: list[str]) -> dict[str, int]:
    row = await db.fetch_one(
        "SELECT COUNT(*) AS total, COALESCE(SUM(direction = 'inbound'), 0) AS incoming,"
        " COALESCE(SUM(direction = 'inbound' AND disposition = 'answered'), 0) AS answered,"
        " COALESCE(SUM(direction = 'inbound' AND disposition <> 'answered'), 0) AS missed,"
        " COALESCE(SUM(direction = 'outbound'), 0) AS outgoing,"
        f" COALESCE(SUM(direction = 'inbound' AND did IN ({_marks(dids)})), 0) AS tracking"
        " FROM calls WHERE started_at >= ? AND started_at < ? AND direction IN ('inbound', 'outbound')",
        [*dids, period.since, period.until],
    )
    assert row is not None
    return {k: int(v) for k, v in row.items()}


async def hourly(db: Database, dids: list[str], now: datetime, period: Period) -> list[dict[str, Any]]:
    """Incoming calls on tracking numbers in each of the last 24 local hours (oldest first)."""
    shift = sql_shift(period.tz, now)
    top = now.astimezone(period.tz).replace(minute=0, second=0, microsecond=0)
    hours = [top - timedelta(hours=n) for n in range(23, -1, -1)]
    bucket = "strftime('%Y-%m-%dT%H', started_at, ?)"
    until = iso(top + timedelta(hours=1))
    counts = await _grouped(db, bucket, shift, dids, since=iso(hours[0]), until=until)
    return [
        {"hour": h.strftime("%Y-%m-%dT%H:00"), "calls": counts.get(h.strftime("%Y-%m-%dT%H"), 0)}
        for h in hours
    ]


async def daily(db: Database, dids: list[str], now: datetime, period: Period) -> list[dict[str, Any]]:
    """Incoming calls on tracking numbers on each of the last 365 local days (oldest first)."""
    shift = sql_shift(period.tz, now)
    last = now.astimezone(period.tz).date()
    days = [last - timedelta(days=n) for n in range(364, -1, -1)]
    year = Period(days[0], last, period.tz)
    counts = await _grouped(db, "date(started_at, ?)", shift, dids, since=year.since, until=year.until)
    return [{"date": d.isoformat(), "calls": counts.get(d.isoformat(), 0)} for d in days]


async def _grouped(
    db: Database, bucket: str, shift: str, dids: list[str], *, since: str, until: str
) -> dict[str, int]:
    if not dids:
        return {}
    rows = await db.fetch_all(
        f"SELECT {bucket} AS bucket, COUNT(*) AS calls FROM calls WHERE did IN ({_marks(dids)})"
        " AND started_at >= ? AND started_at < ? AND direction = 'inbound' GROUP BY bucket",
        [shift, *dids, since, until],
    )
    return {r["bucket"]: int(r["calls"]) for r in rows}


# -- funnel ----------------------------------------------------------------------------------------


async def funnel(db: Database, period: Period, pipeline_id: int | None = None) -> dict[str, Any]:
    """Per pipeline: deals closed in the period (won + lost), lost, won value, success per cent."""
    closed_in = "d.closed_at >= ? AND d.closed_at < ? AND d.status IN ('won', 'lost')"
    only = " AND p.id = ?" if pipeline_id is not None else ""
    params: list[Any] = [period.since, period.until, *([pipeline_id] if pipeline_id is not None else [])]
    rows = await db.fetch_all(
        "SELECT p.id AS pipeline_id, p.name AS pipeline, COUNT(d.id) AS closed,"
        " COALESCE(SUM(d.status = 'won'), 0) AS won, COALESCE(SUM(d.status = 'lost'), 0) AS lost,"
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


async def employees(db: Database, period: Period, sort: str = "answered", descending: bool = True) -> Row:
    """Each employee's calls, talk time, comments and closed deals in the period, ranked by `sort`."""
    dids = await tracking_dids(db)
    people = await db.fetch_all("SELECT id, name, extension FROM employees ORDER BY extension")
    calls = await _calls_by_employee(db, period, dids, [p["extension"] for p in people])
    missed = await _missed_by_employee(db, period)
    comments = await _by_key(
        db, "SELECT author_id AS k, COUNT(*) AS n FROM comments WHERE created_at >= ? AND created_at < ?"
        " GROUP BY author_id", period,
    )  # fmt: skip
    deals = await _deals_by_employee(db, period)
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


async def _calls_by_employee(
    db: Database, period: Period, dids: list[str], extensions: list[str]
) -> dict[str, Row]:
    # `employee` is who answered (or, unanswered, the first who rang): answered and outgoing are theirs.
    rows = await db.fetch_all(
        "SELECT employee, SUM(direction = 'inbound' AND disposition = 'answered') AS answered,"
        f" SUM(direction = 'inbound' AND disposition = 'answered' AND did IN ({_marks(dids)}))"
        " AS answered_tracking, SUM(direction = 'outbound') AS outgoing,"
        " SUM(CASE WHEN disposition = 'answered' THEN talk_seconds ELSE 0 END) AS talk_seconds"
        f" FROM calls WHERE employee IN ({_marks(extensions)}) AND started_at >= ? AND started_at < ?"
        " AND direction IN ('inbound', 'outbound') GROUP BY employee",
        [*dids, *extensions, period.since, period.until],
    )
    return {r["employee"]: r for r in rows}


async def _missed_by_employee(db: Database, period: Period) -> dict[str, int]:
    # A missed call counts for everyone it rang, since each of them could have answered it.
    rows = await db.fetch_all(
        "SELECT x.extension AS k, COUNT(*) AS n FROM calls c JOIN call_extensions x ON x.call_id = c.id"
        " WHERE c.started_at >= ? AND c.started_at < ? AND c.direction = 'inbound'"
        " AND c.disposition <> 'answered' GROUP BY x.extension",
        (period.since, period.until),
    )
    return {r["k"]: int(r["n"]) for r in rows}


async def _by_key(db: Database, sql: str, period: Period) -> dict[Any, int]:
    return {r["k"]: int(r["n"]) for r in await db.fetch_all(sql, (period.since, period.until))}


async def _deals_by_employee(db: Database, period: Period) -> dict[Any, Row]:
    rows = await db.fetch_all(
        "SELECT responsible_id, SUM(status = 'won') AS won, SUM(status = 'lost') AS lost,"
        " SUM(CASE status WHEN 'won' THEN value ELSE 0 END) AS won_value FROM deals"
        " WHERE closed_at >= ? AND closed_at < ? AND status IN ('won', 'lost') GROUP BY responsible_id",
        (period.since, period.until),
    )
    return {r["responsible_id"]: r for r in rows}


# -- incoming calls per tracking number -----------------------------------------------------------


async def lines(db: Database, period: Period) -> dict[str, Any]:
    """Per tracking number: calls, answered, % answered, unique callers; the total and average rows."""
    numbers = await db.fetch_all("SELECT number, name FROM tracking_numbers ORDER BY number")
    items = [await _line_row(db, n, period) for n in numbers]
    items.sort(key=lambda r: (-r["calls"], r["number"]))
    return {
        "period": period.as_dict(),
        "items": items,
        "total": await _lines_total(db, [n["number"] for n in numbers], period),
        "average": _average(items),
    }


_LINE_SQL = (
    "SELECT COUNT(*) AS calls, COALESCE(SUM(disposition = 'answered'), 0) AS answered,"
    " COUNT(DISTINCT phone) AS unique_callers FROM calls WHERE did IN ({marks})"
    " AND started_at >= ? AND started_at < ? AND direction = 'inbound'"
)


async def _line_row(db: Database, number: Row, period: Period) -> Row:
    dids = spellings([number["number"]])
    row = await db.fetch_one(_LINE_SQL.format(marks=_marks(dids)), [*dids, period.since, period.until])
    assert row is not None
    return {**number, **row, "answered_percent": percent(row["answered"], row["calls"])}


async def _lines_total(db: Database, numbers: list[str], period: Period) -> Row:
    # Unique callers over all numbers: one caller who rang two numbers counts once.
    dids = spellings(numbers)
    row = await db.fetch_one(_LINE_SQL.format(marks=_marks(dids)), [*dids, period.since, period.until])
    assert row is not None
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

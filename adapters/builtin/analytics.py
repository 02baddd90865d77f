"""The built-in CRM's reports for a period: summary, sales funnel, employee results, tracking numbers.

Definitions follow the CRM.MP manual (2.6, 2.8): "incoming" means inbound calls, "answered"
those someone answered, "missed" inbound calls nobody answered; tracking numbers are the DIDs in
`tracking_numbers`; the funnel counts only deals closed won or lost within the period, and
success = (closed − lost) / closed. Each report is a few grouped queries over covering indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
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


async def _call_totals(db: Database, period: Period, dids: list[str]) -> dict[str, Any]:
    # One range of calls_report_direction per direction (the IN loop keeps GROUP BY order) ...
    rows = await db.fetch_all(
        "SELECT direction, COUNT(*) AS calls, SUM(disposition = 'answered') AS answered FROM calls"
        " WHERE direction IN ('inbound', 'outbound') AND started_at >= ? AND started_at < ?"
        " GROUP BY direction",
        (period.since, period.until),
    )
    by = {r["direction"]: r for r in rows}
    incoming = int(by["inbound"]["calls"]) if "inbound" in by else 0
    answered = int(by["inbound"]["answered"]) if "inbound" in by else 0
    outgoing = int(by["outbound"]["calls"]) if "outbound" in by else 0
    # ... and one per tracking number of calls_report_line: a bare count, no per-row test.
    tracking = await db.scalar(
        f"SELECT COUNT(*) FROM calls WHERE direction = 'inbound' AND did IN ({_marks(dids)})"
        " AND started_at >= ? AND started_at < ?",
        [*dids, period.since, period.until],
    )
    return {
        "total": incoming + outgoing,
        "incoming": incoming,
        "answered": answered,
        "missed": incoming - answered,
        "outgoing": outgoing,
        "tracking": int(tracking or 0),
        "missed_by_reason": await _missed_by_reason(db, period),
    }


async def _missed_by_reason(db: Database, period: Period) -> dict[str, int]:
    """Inbound calls nobody answered, by the tracker's reason ("unknown": filed before reasons)."""
    rows = await db.fetch_all(
        "SELECT COALESCE(reason, 'unknown') AS reason, COUNT(*) AS calls FROM calls"
        " WHERE direction = 'inbound' AND disposition <> 'answered' AND started_at >= ? AND started_at < ?"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        (period.since, period.until),
    )
    return {str(r["reason"]): int(r["calls"]) for r in rows}


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
    # Local days by the offset in force now, as the hourly chart counts (see `sql_shift`).
    offset = now.astimezone(period.tz).utcoffset() or timedelta()
    offset = timedelta(minutes=offset.total_seconds() // 60)
    last = now.astimezone(period.tz).date()
    days = [last - timedelta(days=n) for n in range(364, -1, -1)]
    if not dids:
        return [{"date": d.isoformat(), "calls": 0} for d in days]

    def start(day: date) -> str:
        return iso(datetime.combine(day, time(), UTC) - offset)

    # Each day's count is one range of calls_report_line per tracking number, counted in the index:
    # no date() on every call and no sort to group them (the subquery runs once per day, not per call).
    rows = await db.fetch_all(
        f"WITH days(day, since, until) AS (VALUES {', '.join('(?, ?, ?)' for _ in days)})"
        " SELECT day, (SELECT COUNT(*) FROM calls WHERE direction = 'inbound'"
        f" AND did IN ({_marks(dids)}) AND started_at >= since AND started_at < until) AS calls FROM days",
        [*(x for d in days for x in (d.isoformat(), start(d), start(d + timedelta(days=1)))), *dids],
    )
    return [{"date": r["day"], "calls": int(r["calls"])} for r in rows]


async def _grouped(
    db: Database, bucket: str, shift: str, dids: list[str], *, since: str, until: str
) -> dict[str, int]:
    if not dids:
        return {}
    rows = await db.fetch_all(
        f"SELECT {bucket} AS bucket, COUNT(*) AS calls FROM calls WHERE direction = 'inbound'"
        f" AND did IN ({_marks(dids)}) AND started_at >= ? AND started_at < ? GROUP BY bucket",
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
    # One range of calls_report_employee per (direction, employee), grouped in index order.
    rows = await db.fetch_all(
        "SELECT direction, employee, COUNT(*) AS calls, SUM(disposition = 'answered') AS answered,"
        " SUM(CASE WHEN disposition = 'answered' THEN talk_seconds ELSE 0 END) AS talk_seconds"
        f" FROM calls WHERE direction IN ('inbound', 'outbound') AND employee IN ({_marks(extensions)})"
        " AND started_at >= ? AND started_at < ? GROUP BY direction, employee",
        [*extensions, period.since, period.until],
    )
    out: dict[str, Row] = {}
    for r in rows:
        row = out.setdefault(
            r["employee"], {"answered": 0, "answered_tracking": 0, "outgoing": 0, "talk_seconds": 0}
        )
        if r["direction"] == "inbound":
            row["answered"] += int(r["answered"])
        else:
            row["outgoing"] += int(r["calls"])
        row["talk_seconds"] += r["talk_seconds"]
    # Answered on tracking numbers: one range of calls_report_employee_line per (line, employee).
    tracked = await db.fetch_all(
        "SELECT employee, COUNT(*) AS n FROM calls WHERE direction = 'inbound' AND disposition = 'answered'"
        f" AND did IN ({_marks(dids)}) AND employee IN ({_marks(extensions)})"
        " AND started_at >= ? AND started_at < ? GROUP BY did, employee",
        [*dids, *extensions, period.since, period.until],
    )
    for r in tracked:
        out[r["employee"]]["answered_tracking"] += int(r["n"])
    return out


async def _missed_by_employee(db: Database, period: Period) -> dict[str, int]:
    # A missed call counts for everyone it rang, since each of them could have answered it. The ids
    # come from calls_report_missed as one sorted list, so the call_extensions seeks run in key order.
    rows = await db.fetch_all(
        "SELECT extension AS k, COUNT(*) AS n FROM call_extensions WHERE call_id IN"
        " (SELECT id FROM calls WHERE direction = 'inbound' AND disposition <> 'answered'"
        " AND started_at >= ? AND started_at < ?) GROUP BY extension",
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
    counts = await _line_counts(db, [n["number"] for n in numbers], period)
    items = [
        {**n, **row, "answered_percent": percent(row["answered"], row["calls"])}
        for n in numbers
        for row in [counts.get(n["number"], {"calls": 0, "answered": 0, "unique_callers": 0})]
    ]
    items.sort(key=lambda r: (-r["calls"], r["number"]))
    return {
        "period": period.as_dict(),
        "items": items,
        "total": await _lines_total(db, [n["number"] for n in numbers], period),
        "average": _average(items),
    }


_LINE_WHERE = (
    "FROM calls WHERE direction = 'inbound' AND did IN ({marks}) AND started_at >= ? AND started_at < ?"
)


async def _line_counts(db: Database, numbers: list[str], period: Period) -> dict[str, Row]:
    """Calls, answered and unique callers per tracking number, in one pass over calls_report_line."""
    # One range per stored spelling, grouped in index order (no sort); the spellings of a number
    # are then added up, which is exact for the counts but not for unique callers when both occur.
    dids = spellings(numbers)
    rows = await db.fetch_all(
        "SELECT did, COUNT(*) AS calls, SUM(disposition = 'answered') AS answered,"
        f" COUNT(DISTINCT phone) AS unique_callers {_LINE_WHERE.format(marks=_marks(dids))} GROUP BY did",
        [*dids, period.since, period.until],
    )
    found: dict[str, list[Row]] = {}
    for r in rows:
        found.setdefault("+" + r["did"].lstrip("+"), []).append(r)
    out: dict[str, Row] = {}
    for number in numbers:
        parts = found.get("+" + number.lstrip("+"), [])
        if len(parts) > 1:  # the number stored both with and without '+': count its callers once
            out[number] = await _line_query(db, spellings([number]), period)
        elif parts:
            out[number] = {k: int(parts[0][k]) for k in ("calls", "answered", "unique_callers")}
    return out


async def _line_query(db: Database, dids: list[str], period: Period) -> Row:
    # Unique callers through a sorted GROUP BY phone: cheaper than COUNT(DISTINCT)'s b-tree.
    row = await db.fetch_one(
        "SELECT COUNT(*) AS unique_callers, COALESCE(SUM(n), 0) AS calls, COALESCE(SUM(a), 0) AS answered"
        " FROM (SELECT phone, COUNT(*) AS n, SUM(disposition = 'answered') AS a"
        f" {_LINE_WHERE.format(marks=_marks(dids))} GROUP BY phone)",
        [*dids, period.since, period.until],
    )
    assert row is not None
    return {k: int(row[k]) for k in ("calls", "answered", "unique_callers")}


async def _lines_total(db: Database, numbers: list[str], period: Period) -> Row:
    # Unique callers over all numbers: one caller who rang two numbers counts once.
    row = await _line_query(db, spellings(numbers), period)
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

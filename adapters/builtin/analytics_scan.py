"""The reports' call figures counted from the calls themselves (covering-index range scans).

The first implementation of the analytics: exact by construction, but every report reads every
call of its period, so a year grows with the history. The reports now read the rollups
(analytics_rollup.py); this stays as the reference they are tested against (same results on the
same data), as the "before" of bench.analytics, and for the last-24-hours chart. Each query is one
range per key of the calls_report_* indexes (schema_analytics.sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from adapters.builtin.campaigns import count_unique_callers, spellings
from adapters.builtin.db import Database, Row, iso
from adapters.builtin.periods import Period


def marks(values: Sequence[Any]) -> str:
    """`?, ?, ...` for `values` (NULL when empty, so `IN (NULL)` matches nothing)."""
    return ", ".join("?" for _ in values) or "NULL"


class ScanFigures:
    """Call figures of a period, counted from `calls` and `call_extensions`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def ready(self, tz: Any) -> None:
        """Nothing to prepare: the calls are always current."""

    async def unique_callers(self, numbers: Sequence[str], period: Period) -> int:
        """Distinct callers of `numbers` in the period (a campaign's leads)."""
        return await count_unique_callers(self.db, numbers, period)

    async def call_totals(self, period: Period, dids: list[str]) -> dict[str, Any]:
        """Incoming, answered, missed, outgoing and tracking-number calls, missed by reason."""
        db = self.db
        # One range of calls_report_direction per direction (the IN loop keeps GROUP BY order) ...
        rows = await db.fetch_all(
            "SELECT direction, COUNT(*) AS calls,"
            " SUM(CASE WHEN disposition = 'answered' THEN 1 ELSE 0 END) AS answered FROM calls"
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
            f"SELECT COUNT(*) FROM calls WHERE direction = 'inbound' AND did IN ({marks(dids)})"
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
            "missed_by_reason": await self._missed_by_reason(period),
        }

    async def _missed_by_reason(self, period: Period) -> dict[str, int]:
        """Inbound calls nobody answered, by the tracker's reason ("unknown": filed before reasons)."""
        rows = await self.db.fetch_all(
            "SELECT COALESCE(reason, 'unknown') AS reason, COUNT(*) AS calls FROM calls WHERE direction ="
            " 'inbound' AND disposition <> 'answered' AND started_at >= ? AND started_at < ?"
            " GROUP BY 1 ORDER BY 2 DESC, 1",
            (period.since, period.until),
        )
        return {str(r["reason"]): int(r["calls"]) for r in rows}

    async def daily(self, dids: list[str], now: datetime, period: Period) -> list[dict[str, Any]]:
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

        # Each day's count is one range of calls_report_line per tracking number, counted in the
        # index: no date() on every call and no sort (the subquery runs once per day, not per call).
        rows = await self.db.fetch_all(
            f"WITH days(day, since, until) AS (VALUES {', '.join('(?, ?, ?)' for _ in days)})"
            " SELECT day, (SELECT COUNT(*) FROM calls WHERE direction = 'inbound'"
            f" AND did IN ({marks(dids)}) AND started_at >= since AND started_at < until) AS calls FROM days",
            [*(x for d in days for x in (d.isoformat(), start(d), start(d + timedelta(days=1)))), *dids],
        )
        return [{"date": r["day"], "calls": int(r["calls"])} for r in rows]

    async def calls_by_employee(
        self, period: Period, dids: list[str], extensions: list[str]
    ) -> dict[str, Row]:
        """Answered (and on tracking numbers), outgoing and talk time per employee's extension."""
        # `employee` is who answered (or, unanswered, the first who rang): answered and outgoing are
        # theirs. One range of calls_report_employee per (direction, employee), in index order.
        rows = await self.db.fetch_all(
            "SELECT direction, employee, COUNT(*) AS calls,"
            " SUM(CASE WHEN disposition = 'answered' THEN 1 ELSE 0 END) AS answered,"
            " SUM(CASE WHEN disposition = 'answered' THEN talk_seconds ELSE 0 END) AS talk_seconds"
            f" FROM calls WHERE direction IN ('inbound', 'outbound') AND employee IN ({marks(extensions)})"
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
        tracked = await self.db.fetch_all(
            "SELECT employee, COUNT(*) AS n FROM calls WHERE direction = 'inbound'"
            f" AND disposition = 'answered' AND did IN ({marks(dids)}) AND employee IN ({marks(extensions)})"
            " AND started_at >= ? AND started_at < ? GROUP BY did, employee",
            [*dids, *extensions, period.since, period.until],
        )
        for r in tracked:
            out[r["employee"]]["answered_tracking"] += int(r["n"])
        return out

    async def missed_by_employee(self, period: Period) -> dict[str, int]:
        """Missed inbound calls per extension they rang."""
        # A missed call counts for everyone it rang, since each of them could have answered it. The
        # ids come from calls_report_missed as one sorted list: the call_extensions seeks run in order.
        rows = await self.db.fetch_all(
            "SELECT extension AS k, COUNT(*) AS n FROM call_extensions WHERE call_id IN"
            " (SELECT id FROM calls WHERE direction = 'inbound' AND disposition <> 'answered'"
            " AND started_at >= ? AND started_at < ?) GROUP BY extension",
            (period.since, period.until),
        )
        return {r["k"]: int(r["n"]) for r in rows}

    async def line_counts(self, numbers: list[str], period: Period) -> dict[str, Row]:
        """Calls, answered and unique callers per tracking number, in one pass over calls_report_line."""
        # One range per stored spelling, grouped in index order (no sort); the spellings of a number
        # are then added up, which is exact for the counts but not for unique callers when both occur.
        dids = spellings(numbers)
        rows = await self.db.fetch_all(
            "SELECT did, COUNT(*) AS calls,"
            " SUM(CASE WHEN disposition = 'answered' THEN 1 ELSE 0 END) AS answered,"
            f" COUNT(DISTINCT phone) AS unique_callers {LINE_WHERE.format(marks=marks(dids))} GROUP BY did",
            [*dids, period.since, period.until],
        )
        found: dict[str, list[Row]] = {}
        for r in rows:
            found.setdefault("+" + r["did"].lstrip("+"), []).append(r)
        out: dict[str, Row] = {}
        for number in numbers:
            parts = found.get("+" + number.lstrip("+"), [])
            if len(parts) > 1:  # the number stored both with and without '+': count its callers once
                out[number] = await line_query(self.db, spellings([number]), period)
            elif parts:
                out[number] = {k: int(parts[0][k]) for k in ("calls", "answered", "unique_callers")}
        return out

    async def lines_total(self, numbers: list[str], period: Period) -> Row:
        """The totals over all tracking numbers: one caller who rang two numbers counts once."""
        return await line_query(self.db, spellings(numbers), period)


LINE_WHERE = (
    "FROM calls WHERE direction = 'inbound' AND did IN ({marks}) AND started_at >= ? AND started_at < ?"
)


async def line_query(db: Database, dids: list[str], period: Period, extra: str = "", *args: Any) -> Row:
    """Calls, answered and unique callers on `dids` (`extra`: " AND ..." with `args`)."""
    # Unique callers through a sorted GROUP BY phone: cheaper than COUNT(DISTINCT)'s b-tree.
    row = await db.fetch_one(
        "SELECT COUNT(*) AS unique_callers, COALESCE(SUM(n), 0) AS calls, COALESCE(SUM(a), 0) AS answered"
        " FROM (SELECT phone, COUNT(*) AS n, SUM(CASE WHEN disposition = 'answered' THEN 1 ELSE 0 END) AS a"
        f" {LINE_WHERE.format(marks=marks(dids))}{extra} GROUP BY phone) AS per_phone",
        [*dids, period.since, period.until, *args],
    )
    assert row is not None
    return {k: int(row[k]) for k in ("calls", "answered", "unique_callers")}

"""The reports' call figures read from the rollups (rollups.py): a period is whole months + odd days.

Everything is a sum of counters, so a year reads a few thousand counter rows however many calls
it had; unique callers come from the (day, previous day) counters of rollup_callers.py. `pbx`
narrows every figure to one office (unique callers then count that office's calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from adapters.builtin import rollups
from adapters.builtin.analytics_scan import LINE_WHERE, line_query, marks
from adapters.builtin.campaigns import spellings
from adapters.builtin.db import Database, Row
from adapters.builtin.periods import Period


def _plus(did: str) -> str:
    return "+" + did.lstrip("+")


class RollupFigures:
    """Call figures of a period from the rollup counters (built first if needed)."""

    def __init__(self, db: Database, pbx: str | None = None) -> None:
        self.db = db
        self.pbx = pbx

    async def ready(self, tz: tzinfo) -> None:
        """Build the rollups if they were never built, or were counted in another time zone."""
        await rollups.ensure_current(self.db, tz)
        await rollups.ensure_scopes(self.db, tz)

    async def unique_callers(self, numbers: Sequence[str], period: Period) -> int:
        """Distinct callers of `numbers` in the period: the counters, else (an office) the calls."""
        kept = await rollups.unique_callers(self.db, numbers, period) if self.pbx is None else None
        if kept is not None:
            return kept
        dids = spellings(numbers)
        row = await self._unique(dids, period) if dids else {"unique_callers": 0}
        return int(row["unique_callers"])

    def _span(self, period: Period) -> tuple[str, list[Any]]:
        months, days = rollups.month_spans(period.first, period.last)
        sql = f"((span = 'm' AND day IN ({marks(months)})) OR (span = 'd' AND day IN ({marks(days)})))"
        return sql + self._office(), [*months, *days, *self._office_args()]

    def _office(self) -> str:
        return " AND pbx = ?" if self.pbx is not None else ""

    def _office_args(self) -> list[Any]:
        return [self.pbx] if self.pbx is not None else []

    async def call_totals(self, period: Period, dids: list[str]) -> dict[str, Any]:
        """Incoming, answered, missed, outgoing and tracking-number calls, missed by reason."""
        span, args = self._span(period)
        rows = await self.db.fetch_all(
            "SELECT direction, disposition, reason, did, SUM(calls) AS n FROM rollup_lines"
            f" WHERE {span} AND direction IN ('inbound', 'outbound')"
            " GROUP BY direction, disposition, reason, did",
            args,
        )
        lines = set(dids)
        totals = {"incoming": 0, "answered": 0, "outgoing": 0, "tracking": 0}
        reasons: dict[str, int] = {}
        for r in rows:
            n = int(r["n"])
            if r["direction"] == "outbound":
                totals["outgoing"] += n
                continue
            totals["incoming"] += n
            totals["tracking"] += n if r["did"] in lines else 0
            if r["disposition"] == "answered":
                totals["answered"] += n
            elif n:
                reason = r["reason"] or "unknown"
                reasons[reason] = reasons.get(reason, 0) + n
        ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "total": totals["incoming"] + totals["outgoing"],
            **totals,
            "missed": totals["incoming"] - totals["answered"],
            "missed_by_reason": dict(ranked),
        }

    async def daily(self, dids: list[str], now: datetime, period: Period) -> list[dict[str, Any]]:
        """Incoming calls on tracking numbers on each of the last 365 local days (oldest first)."""
        last = now.astimezone(period.tz).date()
        days = [last - timedelta(days=n) for n in range(364, -1, -1)]
        rows = await self.db.fetch_all(
            "SELECT day, SUM(calls) AS n FROM rollup_lines WHERE span = 'd' AND day >= ? AND day <= ?"
            f" AND direction = 'inbound' AND did IN ({marks(dids)}){self._office()} GROUP BY day",
            [days[0].isoformat(), last.isoformat(), *dids, *self._office_args()],
        )
        counts = {r["day"]: int(r["n"]) for r in rows}
        return [{"date": d.isoformat(), "calls": counts.get(d.isoformat(), 0)} for d in days]

    async def calls_by_employee(
        self, period: Period, dids: list[str], extensions: list[str]
    ) -> dict[str, Row]:
        """Answered (and on tracking numbers), outgoing and talk time per employee's extension."""
        span, args = self._span(period)
        rows = await self.db.fetch_all(
            "SELECT employee, direction, disposition, did, SUM(calls) AS n, SUM(talk_ms) AS ms"
            f" FROM rollup_employees WHERE {span} AND direction IN ('inbound', 'outbound')"
            f" AND employee IN ({marks(extensions)}) GROUP BY employee, direction, disposition, did",
            [*args, *extensions],
        )
        lines = set(dids)
        out: dict[str, Row] = {}
        for r in rows:
            row = out.setdefault(
                r["employee"], {"answered": 0, "answered_tracking": 0, "outgoing": 0, "talk_seconds": 0}
            )
            answered = r["disposition"] == "answered"
            if r["direction"] == "outbound":
                row["outgoing"] += int(r["n"])
            elif answered:
                row["answered"] += int(r["n"])
                row["answered_tracking"] += int(r["n"]) if r["did"] in lines else 0
            if answered:
                row["talk_seconds"] += int(r["ms"]) / 1000
        return out

    async def missed_by_employee(self, period: Period) -> dict[str, int]:
        """Missed inbound calls per extension they rang."""
        span, args = self._span(period)
        rows = await self.db.fetch_all(
            f"SELECT extension, SUM(calls) AS n FROM rollup_missed WHERE {span} GROUP BY extension", args
        )
        return {r["extension"]: int(r["n"]) for r in rows if r["n"]}

    async def _line_calls(self, dids: Sequence[str], period: Period) -> dict[str, list[int]]:
        span, args = self._span(period)
        rows = await self.db.fetch_all(
            "SELECT did, disposition, SUM(calls) AS n FROM rollup_lines"
            f" WHERE {span} AND direction = 'inbound' AND did IN ({marks(dids)}) GROUP BY did, disposition",
            [*args, *dids],
        )
        out: dict[str, list[int]] = {}
        for r in rows:
            counts = out.setdefault(_plus(r["did"]), [0, 0])
            counts[0] += int(r["n"])
            counts[1] += int(r["n"]) if r["disposition"] == "answered" else 0
        return out

    async def _callers(self, dids: list[str], period: Period) -> dict[str, list[Row]]:
        """Unique callers per stored spelling of each line (a scan: distinct counts do not add up)."""
        rows = await self.db.fetch_all(
            f"SELECT did, COUNT(DISTINCT phone) AS n {LINE_WHERE.format(marks=marks(dids))}{self._office()}"
            " GROUP BY did",
            [*dids, period.since, period.until, *self._office_args()],
        )
        found: dict[str, list[Row]] = {}
        for r in rows:
            found.setdefault(_plus(r["did"]), []).append(r)
        return found

    async def line_counts(self, numbers: list[str], period: Period) -> dict[str, Row]:
        """Calls, answered and unique callers per tracking number."""
        dids = spellings(numbers)
        calls = await self._line_calls(dids, period)
        callers = await self._callers(dids, period) if self.pbx is not None else {}
        out: dict[str, Row] = {}
        for number in numbers:
            counts = calls.get(_plus(number))
            if not counts or not counts[0]:
                continue
            kept = await rollups.unique_callers(self.db, [number], period) if self.pbx is None else None
            parts = callers.get(_plus(number), [])
            if kept is not None:
                unique = kept
            elif len(parts) > 1:  # stored both with and without '+': count each caller once
                unique = (await self._unique(spellings([number]), period))["unique_callers"]
            else:
                unique = int(parts[0]["n"]) if parts else 0
            out[number] = {"calls": counts[0], "answered": counts[1], "unique_callers": unique}
        return out

    async def _unique(self, dids: list[str], period: Period) -> Row:
        return await line_query(self.db, dids, period, self._office(), *self._office_args())

    async def lines_total(self, numbers: list[str], period: Period) -> Row:
        """The totals over all tracking numbers: one caller who rang two numbers counts once."""
        dids = spellings(numbers)
        calls = await self._line_calls(dids, period)
        kept = await rollups.unique_callers(self.db, numbers, period) if self.pbx is None else None
        if kept is None:
            kept = (await self._unique(dids, period))["unique_callers"] if calls else 0
        unique = kept
        return {
            "calls": sum(c[0] for c in calls.values()),
            "answered": sum(c[1] for c in calls.values()),
            "unique_callers": unique,
        }

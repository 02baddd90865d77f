"""The reports read calls only through the covering report indexes (EXPLAIN QUERY PLAN).

Every statement the summary, employee and lines reports run is recorded, then explained with the
same parameters: each step on `calls` must search a `calls_report_*` index that covers it (no
table rows read, no full scan), and each step on `call_extensions` must be index-only too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.builtin import analytics
from adapters.builtin.analytics_scan import ScanFigures
from adapters.builtin.campaigns import ensure_schema
from adapters.builtin.db import Database, Params, Row
from adapters.builtin.periods import Period
from adapters.builtin.store import Store
from tests.unit.analytics.conftest import Server
from tests.unit.analytics.dataset import MSK, NOW

# SQLite's query plans (EXPLAIN QUERY PLAN): read on the SQLite back end only.
SQLITE_PLAN = pytest.mark.parametrize("crm_target", ["sqlite"], indirect=True)

YEAR = Period(NOW.date() - timedelta(days=364), NOW.date(), MSK)
MONTH = Period(NOW.date().replace(day=1), NOW.date(), MSK)
Report = Callable[[Database, Period], Awaitable[Any]]
REPORTS: dict[str, Report] = {  # as counted from the calls (the reference, and bench's "before")
    "summary": lambda db, period: analytics.summary(db, period, NOW, ScanFigures(db)),
    "employees": lambda db, period: analytics.employees(db, period, figures=ScanFigures(db)),
    "lines": lambda db, period: analytics.lines(db, period, ScanFigures(db)),
}
ROLLUP_REPORTS: dict[str, Report] = {  # as the API serves them
    "summary": lambda db, period: analytics.summary(db, period, NOW),
    "employees": analytics.employees,
    "lines": analytics.lines,
}


async def _statements(
    db: Database, report: Report, period: Period, monkeypatch: Any, pattern: str = r"\bcalls\b"
) -> list[Any]:
    seen: list[tuple[str, list[Any]]] = []
    fetch_all, fetch_one = db.fetch_all, db.fetch_one

    async def all_rows(sql: str, params: Params = ()) -> list[Row]:
        seen.append((sql, list(params)))
        return await fetch_all(sql, params)

    async def one_row(sql: str, params: Params = ()) -> Row | None:
        seen.append((sql, list(params)))
        return await fetch_one(sql, params)

    monkeypatch.setattr(db, "fetch_all", all_rows)
    monkeypatch.setattr(db, "fetch_one", one_row)
    await report(db, period)
    monkeypatch.undo()
    return [(sql, params) for sql, params in seen if re.search(pattern, sql)]


@pytest.mark.parametrize("period", [MONTH, YEAR], ids=["month", "year"])
@pytest.mark.parametrize("name", sorted(REPORTS))
@SQLITE_PLAN
async def test_reports_read_calls_only_through_covering_report_indexes(
    server: Server, monkeypatch: Any, name: str, period: Period
) -> None:
    db = server.store.db
    statements = await _statements(db, REPORTS[name], period, monkeypatch)
    assert statements, "the report queried no calls"
    for sql, params in statements:
        steps = [r["detail"] for r in await db.fetch_all("EXPLAIN QUERY PLAN " + sql, params)]
        for step in steps:
            if re.match(r"(SCAN|SEARCH) (calls|c)\b", step):
                assert re.match(r"SEARCH \w+ USING COVERING INDEX calls_report_\w+ \(", step), (sql, steps)
            if re.match(r"(SCAN|SEARCH) (call_extensions|x)\b", step):
                assert "COVERING INDEX" in step, (sql, steps)


async def test_the_schema_replaces_the_first_report_indexes_in_an_existing_database(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "old.db")
    try:
        # A database made by the first version: its report indexes led with started_at.
        await store.db.write("CREATE INDEX calls_period ON calls(started_at, direction, disposition)")
        await store.db.write(
            "CREATE INDEX calls_line ON calls(did, started_at, direction, disposition, phone)"
        )
        await ensure_schema(store.db)
        rows = await store.db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls' AND sql IS NOT NULL"
        )
        names = {r["name"] for r in rows}
        assert not names & {"calls_period", "calls_line", "calls_employee", "calls_missed"}
        assert {n for n in names if n.startswith("calls_report_")} == {
            "calls_report_direction", "calls_report_line", "calls_report_employee",
            "calls_report_employee_line", "calls_report_missed", "calls_report_reason",
        }  # fmt: skip
    finally:
        await store.close()


@pytest.mark.parametrize("period", [MONTH, YEAR], ids=["month", "year"])
@pytest.mark.parametrize("name", sorted(ROLLUP_REPORTS))
@SQLITE_PLAN
async def test_reports_read_rollups_by_their_keys(
    server: Server, monkeypatch: Any, name: str, period: Period
) -> None:
    db = server.store.db
    await analytics.summary(db, period, NOW)  # builds the rollups
    statements = await _statements(db, ROLLUP_REPORTS[name], period, monkeypatch, r"\brollup_|FROM calls")
    assert statements, "the report read no rollups"
    for sql, params in statements:
        steps = [r["detail"] for r in await db.fetch_all("EXPLAIN QUERY PLAN " + sql, params)]
        for step in steps:
            if re.match(r"(SCAN|SEARCH) rollup_(lines|employees|missed)", step):
                keyed = r"SEARCH rollup_\w+ USING (COVERING )?INDEX sqlite_autoindex_rollup_"
                assert re.match(keyed, step), (sql, steps)
            if re.match(r"(SCAN|SEARCH) (calls|c)\b", step):  # unique callers: still from the calls
                assert re.match(r"SEARCH \w+ USING COVERING INDEX calls_report_\w+ \(", step), (sql, steps)

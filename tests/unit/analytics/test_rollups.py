"""The reports read rollups: the same figures as counting the calls, on a mixed year of calls.

The data set is random but seeded: inbound/outbound/internal calls over 14 months, lines written
with and without '+', direct calls, every missed-call reason, transfers (the missed call counts for
whoever it was transferred to as well), two offices. Some calls are filed before the rollups
exist, the rest after (kept by each save), and some are filed again with other facts (a
redelivery that changes the disposition, the start, the employee, the office).
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.builtin import analytics, rollups
from adapters.builtin.analytics_rollup import RollupFigures
from adapters.builtin.analytics_scan import ScanFigures
from adapters.builtin.campaigns import ensure_schema
from adapters.builtin.db import Database
from adapters.builtin.periods import Period
from adapters.builtin.store import Store
from connector.calls.model import Call, Direction, Reason, Transfer, TransferKind
from tests.unit.analytics.dataset import INSTAGRAM, LINES, MSK, NOW, SITE, YANDEX
from tests.unit.builtin.helpers import EMPLOYEES, make_call

EXTS = ("201", "202", "203", "204")  # 204 is nobody's: its calls count for no employee
PERIODS = (
    Period(date(2026, 11, 1), NOW.date(), MSK),  # this month
    Period(NOW.date() - timedelta(days=364), NOW.date(), MSK),  # a year: months + odd days
    Period(date(2026, 2, 27), date(2026, 3, 2), MSK),  # across a month's end
    Period(date(2025, 10, 1), NOW.date(), MSK),  # everything, starting on a month's first
)


def _call(rng: random.Random, n: int) -> tuple[Call, str]:
    start = NOW - timedelta(minutes=rng.randrange(60 * 24 * 415))
    kind = rng.random()
    direction = Direction.INBOUND if kind < 0.7 else Direction.OUTBOUND if kind < 0.9 else Direction.INTERNAL
    did = (
        rng.choice((SITE, SITE[1:], YANDEX, INSTAGRAM[1:], None)) if direction is Direction.INBOUND else None
    )
    rang = tuple(rng.sample(EXTS, rng.randrange(1, 3)))
    answered = rng.choice((*rang, None))
    call = make_call(
        f"r{n}", f"+7916000{rng.randrange(40):04d}", direction=direction, answered_by=answered,
        rang=rang, did=did, start=start, talk=rng.randrange(1, 400),
    )  # fmt: skip
    if answered is None and direction is Direction.INBOUND:
        call = dataclasses.replace(call, reason=rng.choice((*Reason, None)))
    if rng.random() < 0.2:  # transferred (missed after a transfer, or answered by another)
        to = rng.choice(EXTS)
        call = dataclasses.replace(call, transfers=(Transfer(TransferKind.BLIND, rang[0], to, start),))
    return call, rng.choice(("msk", "spb"))


async def _fill(store: Store) -> None:
    rng = random.Random(2026)
    await ensure_schema(store.db, [(line.number, line.name) for line in LINES])
    for name, ext, role, token in EMPLOYEES:
        if ext != "200":
            await store.employees.create(name, ext, role, token)
    for name, numbers in (("Осень", (SITE, YANDEX)), ("Инста", (INSTAGRAM,))):
        await store.db.write(
            "INSERT INTO campaigns (name, starts_on, budget, created_at) VALUES (?, '2025-10-01', 1000, '')",
            (name,),
        )
        for number in numbers:
            await store.db.write(
                "INSERT INTO campaign_numbers (campaign_id, number)"
                " SELECT id, ? FROM campaigns WHERE name = ?",
                (number, name),
            )
    calls = [_call(rng, n) for n in range(240)]
    for call, office in calls[:120]:  # before the rollups exist
        await store.calls.save(call, office)
    await RollupFigures(store.db).ready(MSK)  # builds them, unique-caller scopes too
    for call, office in calls[120:]:  # kept current by each save
        await store.calls.save(call, office)
    for call, _ in calls[::7]:  # filed again, changed
        answered = None if call.answered_by else "203"
        changed = make_call(
            call.id, call.client, direction=call.direction, answered_by=answered, rang=("203",),
            did=call.did, start=call.started_at - timedelta(days=40), talk=77,
        )  # fmt: skip
        await store.calls.save(
            dataclasses.replace(changed, reason=Reason.NO_ANSWER if not answered else None), "spb"
        )


async def _reports(db: Database, period: Period, figures: Any) -> dict[str, Any]:
    return {
        "summary": await analytics.summary(db, period, NOW, figures),
        "employees": await analytics.employees(db, period, "missed", True, figures),
        "lines": await analytics.lines(db, period, figures),
        "funnel": await analytics.funnel(db, period),
    }


async def _counters(db: Database) -> dict[str, list[Any]]:
    out = {}
    for table in ("rollup_lines", "rollup_employees", "rollup_missed", "rollup_callers"):
        rows = await db.fetch_all(f"SELECT * FROM {table} WHERE calls <> 0")
        out[table] = sorted(tuple(r.values()) for r in rows)
    return out


async def test_every_report_from_rollups_equals_counting_the_calls(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "crm.db")
    try:
        await _fill(store)
        db = store.db
        for period in PERIODS:
            assert await _reports(db, period, None) == await _reports(db, period, ScanFigures(db)), period
        whole = await analytics.summary(db, PERIODS[3], NOW)
        assert len(whole["calls"]["missed_by_reason"]) > 4  # several reasons (and "unknown")
        assert [c["unique_callers"] > 0 for c in whole["campaigns"]["items"]] == [True, True]
        kept = await rollups.unique_callers(db, [SITE, YANDEX], PERIODS[1])  # the campaign's lines
        assert kept is not None and kept > 0
        kept = await _counters(db)
        assert await rollups.rebuild(db, MSK)
        assert await _counters(db) == kept  # what the saves kept is what a recount finds
    finally:
        await store.close()


async def test_a_report_in_another_time_zone_recounts_the_days_first(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "crm.db")
    try:
        await _fill(store)
        ekb = ZoneInfo("Asia/Yekaterinburg")  # two hours ahead of Moscow: calls move to other days
        period = Period(date(2026, 11, 1), NOW.date(), ekb)
        now = NOW.astimezone(ekb)
        scan = await analytics.summary(store.db, period, now, ScanFigures(store.db))
        assert await analytics.summary(store.db, period, now) == scan
        assert await store.db.scalar("SELECT zone FROM rollup_state") == "Asia/Yekaterinburg"
    finally:
        await store.close()


async def test_the_office_filter_counts_only_that_offices_calls(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "crm.db")
    try:
        await _fill(store)
        period, db = PERIODS[3], store.db
        both = await analytics.summary(db, period, NOW)
        parts = [await analytics.summary(db, period, NOW, RollupFigures(db, pbx)) for pbx in ("msk", "spb")]
        assert min(p["calls"]["total"] for p in parts) > 0
        for key in ("total", "incoming", "answered", "missed", "outgoing", "tracking"):
            assert parts[0]["calls"][key] + parts[1]["calls"][key] == both["calls"][key], key
        msk_only = await db.scalar(
            "SELECT COUNT(*) FROM calls WHERE pbx = 'msk' AND direction IN ('inbound', 'outbound')"
        )
        assert parts[0]["calls"]["total"] == msk_only
    finally:
        await store.close()

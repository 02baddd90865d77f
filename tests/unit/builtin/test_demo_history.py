"""The demo's weeks of history: analytics and the deals board are not empty on a fresh demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.builtin.analytics import funnel
from adapters.builtin.periods import Period
from adapters.builtin.store import Store
from connector.commands.demo_seed import seed


async def test_the_demo_has_weeks_of_calls_deals_with_stage_history_and_a_campaign(tmp_path: Path) -> None:
    tokens = await seed(tmp_path / "builtin.db")
    assert len(tokens) == 8
    store = await Store.open(tmp_path / "builtin.db")
    try:
        db = store.db
        span = await db.fetch_one("SELECT MIN(started_at) AS first, MAX(started_at) AS last FROM calls")
        assert span is not None
        days = (datetime.fromisoformat(span["last"]) - datetime.fromisoformat(span["first"])).days
        assert days >= 28, days
        assert await db.scalar("SELECT COUNT(*) FROM calls WHERE disposition <> 'answered'") > 10
        moves = await db.scalar("SELECT COUNT(*) FROM journal WHERE kind = 'deal' AND text LIKE '%→%'")
        assert moves >= 20
        closed = await db.fetch_all("SELECT status, reason FROM deals WHERE status IN ('won', 'lost')")
        assert {r["status"] for r in closed} == {"won", "lost"}
        assert all(r["reason"] for r in closed if r["status"] == "lost")
        assert await db.scalar("SELECT COUNT(*) FROM campaigns") == 2
        now = datetime.now(UTC)
        period = Period((now - timedelta(days=60)).date(), now.date(), UTC)
        report = await funnel(db, period)
        assert report["total"]["closed"] > 0
    finally:
        await store.close()

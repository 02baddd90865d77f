"""A full disk: finished calls wait in memory (bounded) until space returns; none is dropped, and
/healthz says unhealthy meanwhile.

The disk is filled at SQLite's own layer: `PRAGMA max_page_count` at the file's current size makes
every write that needs a new page fail with SQLITE_FULL ("database or disk is full"), exactly as a
full filesystem does, on the real outbox and its real error path; raising it is space returning.
(A tmpfs mounted for the test would need root, which CI does not have; bench/abuse.py uses one
when it can.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from connector.ami.feed import CallFeed
from connector.api.health import HealthSources
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker
from connector.errors import StorageError
from connector.sync.outbox import Outbox
from tests.unit.ami import calls

CALLS = 40
WAIT = 30.0  # a bound for a broken build, not a measure


def one_call(n: int) -> list[dict[str, str]]:
    """Call n: rings 201 and hangs up, with its own uniqueids and linkedid."""
    events = calls.ringing(1763805600.0 + n * 100) + calls.hangups(1763805660.0 + n * 100)
    out = []
    for event in events:
        renamed = {k: v.replace("1.1", f"{n}.1").replace("1.2", f"{n}.2") for k, v in event.items()}
        out.append(renamed)
    return out


async def fill_disk(outbox: Outbox, pages: int = 0) -> None:
    rows = await outbox.db.fetch("PRAGMA page_count")
    await outbox.db.fetch(f"PRAGMA max_page_count = {int(rows[0][0]) + pages}")


async def test_calls_finished_while_the_disk_is_full_are_written_once_space_returns(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path / "outbox.db")

    refused = asyncio.Event()

    async def record_call(call: Call) -> None:
        try:
            await outbox.record_call(call, [])
        except StorageError:
            refused.set()
            raise

    async def record_live(event: LiveEvent) -> None:
        await outbox.record_live(event, [])

    feed = CallFeed(CallTracker(TrackerRules()), record_call, record_live)
    health = HealthSources(stage="running", outbox=outbox, feed=feed)
    feed.start()
    try:
        await fill_disk(outbox)
        for n in range(1, CALLS + 1):
            for event in one_call(n):
                feed.on_event(event)
        async with asyncio.timeout(WAIT):
            await refused.wait()
        report = await health.report()
        assert report["status"] == "unhealthy"
        assert any("disk is full" in problem for problem in report["problems"])
        await fill_disk(outbox, pages=10_000)  # space returns
        async with asyncio.timeout(WAIT):
            await feed.queue.join()
        rows = await outbox.db.fetch("SELECT id FROM calls")
        assert sorted(str(r[0]) for r in rows) == sorted(f"{n}.1" for n in range(1, CALLS + 1))
        assert (feed.stats.blocked, feed.stats.dropped, feed.stats.write_failures) == ("", 0, 0)
        assert not [p for p in (await health.report())["problems"] if "cannot be written" in p]
    finally:
        await feed.stop(grace=1)
        await outbox.close()

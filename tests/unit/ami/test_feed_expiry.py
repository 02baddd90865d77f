"""The daemon's lifetime check never closes a call whose channels Asterisk still has, and closes
nothing while Asterisk cannot tell (issue 25 item 8)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from connector.ami.feed import CallFeed
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker
from tests.unit.ami import calls


class Monotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


async def _feed_after_hours_of_silence() -> tuple[CallFeed, list[Call], Monotonic]:
    recorded: list[Call] = []
    clock = Monotonic()
    tracker = CallTracker(TrackerRules(max_call_seconds=3600), clock=clock)

    async def record_call(call: Call) -> None:
        recorded.append(call)

    async def record_live(event: LiveEvent) -> None:
        return None

    feed = CallFeed(tracker, record_call, record_live)
    for event in calls.ringing():
        feed.on_event(event)
    clock.value += 5 * 3600  # a long call: no event for five hours
    return feed, recorded, clock


def _closed(feed: CallFeed) -> list[Call]:
    items = []
    while not feed.queue.empty():
        item = feed.queue.get_nowait()
        if isinstance(item, Call):
            items.append(item)
    return items


async def test_a_call_whose_channels_are_alive_is_never_expired() -> None:
    feed, _, _ = await _feed_after_hours_of_silence()

    async def alive() -> Collection[str]:
        return {"1.1", "1.2"}

    await feed.expire(datetime.now(UTC), alive)
    assert _closed(feed) == [] and feed.tracker.in_progress == 1


async def test_nothing_is_expired_while_asterisk_cannot_tell() -> None:
    feed, _, _ = await _feed_after_hours_of_silence()

    async def unknown() -> Collection[str] | None:
        return None

    await feed.expire(datetime.now(UTC) + timedelta(days=1), unknown)
    assert _closed(feed) == [] and feed.tracker.in_progress == 1


async def test_a_call_whose_channels_are_gone_is_closed_as_interrupted() -> None:
    feed, _, _ = await _feed_after_hours_of_silence()

    async def none_alive() -> Collection[str]:
        return set()

    await feed.expire(datetime.now(UTC), none_alive)
    assert [c.interrupted for c in _closed(feed)] == [True]

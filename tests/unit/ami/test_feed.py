"""The call feed: AMI events → tracker → outbox, and the resync after every AMI login."""

from __future__ import annotations

import time

from connector.ami.client import ChannelSnapshot
from connector.ami.feed import CallFeed
from connector.calls.model import Call, LiveEvent, LiveKind
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker
from connector.errors import StorageError
from tests.unit.ami import calls


class Recorder:
    """Stands in for the outbox's record_call/record_live: keeps what it was given."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls: list[Call] = []
        self.live: list[LiveEvent] = []
        self.failures = failures
        self.error = error or StorageError("database is locked")

    async def call(self, call: Call) -> None:
        if self.failures:
            self.failures -= 1
            raise self.error
        self.calls.append(call)

    async def event(self, event: LiveEvent) -> None:
        self.live.append(event)


def make_feed(recorder: Recorder) -> CallFeed:
    return CallFeed(CallTracker(TrackerRules()), recorder.call, recorder.event)


def snapshot(items: list[dict[str, str]], first: bool = False) -> ChannelSnapshot:
    return ChannelSnapshot(tuple(items), frozenset(i["Uniqueid"] for i in items), time.time(), first)


async def test_a_finished_call_reaches_the_outbox_once() -> None:
    recorder = Recorder()
    feed = make_feed(recorder)
    feed.start()
    for event in calls.ringing() + calls.hangups():
        feed.on_event(event)
    await feed.stop(grace=5)
    assert [c.id for c in recorder.calls] == ["1.1"]


async def test_live_events_are_published_at_once_and_recorded() -> None:
    recorder = Recorder()
    published: list[LiveEvent] = []
    feed = CallFeed(CallTracker(TrackerRules()), recorder.call, recorder.event, published.append)
    for event in calls.ringing():
        feed.on_event(event)
    assert [e.kind for e in published] == [LiveKind.RINGING]
    feed.start()
    await feed.stop(grace=5)
    assert [e.kind for e in recorder.live] == [LiveKind.RINGING]


async def test_a_call_whose_channels_vanished_during_the_outage_is_closed_as_interrupted() -> None:
    recorder = Recorder()
    feed = make_feed(recorder)
    feed.start()
    for event in calls.ringing():
        feed.on_event(event)
    await feed.on_session(snapshot([]))
    await feed.stop(grace=5)
    assert [(c.id, c.interrupted) for c in recorder.calls] == [("1.1", True)]


async def test_a_call_still_alive_after_a_reconnect_goes_on_and_is_recorded_once_at_its_end() -> None:
    recorder = Recorder()
    feed = make_feed(recorder)
    feed.start()
    for event in calls.ringing():
        feed.on_event(event)
    await feed.on_session(snapshot(calls.snapshot_items()))
    for event in calls.hangups():
        feed.on_event(event)
    await feed.stop(grace=5)
    assert [(c.id, c.interrupted) for c in recorder.calls] == [("1.1", False)]


async def test_after_a_daemon_restart_a_call_in_progress_is_picked_up_from_the_channels() -> None:
    recorder = Recorder()
    feed = make_feed(recorder)  # a fresh tracker: the daemon has just started
    feed.start()
    await feed.on_session(snapshot(calls.snapshot_items(), first=True))
    for event in calls.hangups():
        feed.on_event(event)
    await feed.stop(grace=5)
    assert [(c.id, c.client, c.interrupted) for c in recorder.calls] == [("1.1", "+74951234567", False)]


async def test_a_locked_outbox_is_retried_and_the_call_kept() -> None:
    recorder = Recorder(failures=1)
    feed = make_feed(recorder)
    feed.start()
    for event in calls.ringing() + calls.hangups():
        feed.on_event(event)
    await feed.stop(grace=10)
    assert [c.id for c in recorder.calls] == ["1.1"]


async def test_an_unexpected_outbox_error_does_not_stop_the_writer() -> None:
    recorder = Recorder(failures=1, error=ValueError("no active connection"))
    feed = make_feed(recorder)
    feed.start()
    for event in calls.ringing() + calls.hangups():
        feed.on_event(event)
    await feed.stop(grace=10)
    assert [c.id for c in recorder.calls] == ["1.1"]

"""Calls in progress across a stop: journalled at shutdown, resumed whole at the next start.

The first feed takes the ringing of an inbound call to a DID and saves its journal, as the daemon
does at SIGTERM; a fresh feed restores it before AMI's first resync. A call still alive then ends
with its DID kept; one whose channels are gone is closed as interrupted, once.
"""

from __future__ import annotations

import time
from pathlib import Path

from connector.ami.client import ChannelSnapshot
from connector.ami.feed import CallFeed
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import TrackerRules
from connector.calls.snapshot import EventLog
from connector.calls.tracker import CallTracker
from connector.sync import inflight
from tests.unit.ami import calls

DID = "74951110001"
DID_E164 = "+74951110001"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.live: list[LiveEvent] = []

    async def call(self, call: Call) -> None:
        self.calls.append(call)

    async def event(self, event: LiveEvent) -> None:
        self.live.append(event)


def feed_for(recorder: Recorder) -> CallFeed:
    return CallFeed(CallTracker(TrackerRules()), recorder.call, recorder.event)


def ringing_to_did() -> list[dict[str, str]]:
    """The client's channel is created for the DID, then rings 201 (the dialplan moved it on)."""
    events = calls.ringing()
    events[0] = {**events[0], "Exten": DID}
    return events


def alive() -> list[dict[str, str]]:
    return [{k: v for k, v in c.items() if k != "ActionID"} for c in calls.snapshot_items()]


def snapshot(items: list[dict[str, str]]) -> ChannelSnapshot:
    return ChannelSnapshot(tuple(items), frozenset(i["Uniqueid"] for i in items), time.time(), True)


async def stopped_during_a_call(tmp_path: Path) -> Path:
    """A feed that saw the call ring, stopped as the daemon stops; the saved journal."""
    recorder = Recorder()
    first = feed_for(recorder)
    first.start()
    for event in ringing_to_did():
        first.on_event(event)
    await first.stop(grace=5)
    path = inflight.path_in(tmp_path)
    inflight.save(path, first.journal())
    assert recorder.calls == []
    return path


async def test_a_call_alive_across_the_restart_ends_once_with_its_did(tmp_path: Path) -> None:
    path = await stopped_during_a_call(tmp_path)
    recorder = Recorder()
    second = feed_for(recorder)
    assert second.restore(inflight.load(path)) == 1
    second.start()
    await second.on_session(snapshot(alive()))
    for event in calls.hangups():
        second.on_event(event)
    await second.stop(grace=5)
    assert [(c.id, c.did, c.interrupted) for c in recorder.calls] == [("1.1", DID_E164, False)]
    assert recorder.live == [] or all(e.kind.value == "ended" for e in recorder.live)


async def test_a_call_answered_while_the_daemon_was_stopped_is_answered(tmp_path: Path) -> None:
    """The journal shows 201 ringing; the resync lists both channels up in one bridge: the answer
    happened while no daemon ran, and the snapshot is the only place it is told."""
    path = await stopped_during_a_call(tmp_path)
    recorder = Recorder()
    second = feed_for(recorder)
    second.restore(inflight.load(path))
    second.start()
    talking = [{**item, "ChannelState": "6", "ChannelStateDesc": "Up", "BridgeId": "b-1"} for item in alive()]
    await second.on_session(snapshot(talking))
    for event in calls.hangups():
        second.on_event(event)
    await second.stop(grace=5)
    assert [(c.disposition.value, c.answered_by, c.interrupted) for c in recorder.calls] == [
        ("answered", "201", False)
    ]


async def test_a_call_whose_channels_ended_while_stopped_is_closed_once(tmp_path: Path) -> None:
    path = await stopped_during_a_call(tmp_path)
    recorder = Recorder()
    second = feed_for(recorder)
    second.restore(inflight.load(path))
    second.start()
    await second.on_session(snapshot([]))
    await second.on_session(snapshot([]))  # a second resync (AMI reconnect) closes nothing more
    await second.stop(grace=5)
    assert [(c.id, c.did, c.interrupted) for c in recorder.calls] == [("1.1", DID_E164, True)]
    assert second.journal() == []  # written: nothing left to resume


async def test_a_call_finished_but_not_written_at_shutdown_is_written_after_the_restart(
    tmp_path: Path,
) -> None:
    class Full(Recorder):
        async def call(self, call: Call) -> None:
            from connector.errors import StorageError

            raise StorageError("database or disk is full")

    first = feed_for(Full())
    first.start()
    for event in ringing_to_did() + calls.hangups():
        first.on_event(event)
    await first.stop(grace=0.1)
    path = inflight.path_in(tmp_path)
    inflight.save(path, first.journal())
    recorder = Recorder()
    second = feed_for(recorder)
    second.restore(inflight.load(path))
    second.start()
    await second.stop(grace=5)
    assert [(c.id, c.did, c.interrupted) for c in recorder.calls] == [("1.1", DID_E164, False)]


def test_a_damaged_journal_is_moved_aside_and_nothing_is_restored(tmp_path: Path) -> None:
    path = inflight.path_in(tmp_path)
    path.write_text('{"version": 1, "events": [[0, ', encoding="utf-8")
    assert inflight.load(path) == []
    assert path.with_name(path.name + ".bad").exists()


def test_the_event_log_is_bounded_per_call_and_in_calls() -> None:
    log = EventLog(max_calls=2, max_events_per_call=3)
    for n in range(10):
        log.add({"Event": "VarSet", "Linkedid": "a"}, None, {"a", "b", "c"})
        log.add({"Event": "VarSet", "Linkedid": f"x{n}"}, None, {f"x{n}"})
    assert log.size <= 2 * 3
    assert log.overflowed >= 2


async def test_events_in_the_tail_resume_a_call_killed_before_any_checkpoint(tmp_path: Path) -> None:
    """kill -9 right after the call's first events: no checkpoint yet, only the tail has them."""
    path = inflight.path_in(tmp_path)
    tail = inflight.Tail(inflight.tail_path(path))
    tail.open()
    first = feed_for(Recorder())
    first.on_kept = tail.append
    for event in ringing_to_did():
        first.on_event(event)
    # the process dies here: no save, no close (the kernel has what `write` was given)
    recorder = Recorder()
    second = feed_for(recorder)
    assert second.restore(inflight.load(path)) == 1
    second.start()
    await second.on_session(snapshot([]))
    await second.stop(grace=5)
    tail.close()
    assert [(c.id, c.did, c.interrupted) for c in recorder.calls] == [("1.1", DID_E164, True)]


async def test_a_checkpoint_trims_the_tail_and_no_event_is_replayed_twice(tmp_path: Path) -> None:
    path = inflight.path_in(tmp_path)
    tail = inflight.Tail(inflight.tail_path(path))
    tail.open()
    first = feed_for(Recorder())
    first.on_kept = tail.append
    events = ringing_to_did()
    first.on_event(events[0])
    upto = tail.mark
    inflight.save(path, first.journal(), upto)
    for event in events[1:]:  # after the checkpoint was taken, before the tail is trimmed
        first.on_event(event)
    tail.trim(upto)
    tail.close()
    assert [event for _, event in inflight.load(path)] == events
    _, mark = inflight.load_with_mark(path)
    assert mark == tail.mark
    later = inflight.Tail(inflight.tail_path(path), mark)
    later.open()
    later.append((None, {"Event": "Hangup", "Linkedid": "1.1"}))
    later.close()
    assert len(inflight.load(path)) == len(events) + 1  # numbered on, not hidden under upto


def test_a_torn_tail_line_is_skipped(tmp_path: Path) -> None:
    path = inflight.path_in(tmp_path)
    inflight.tail_path(path).write_bytes(b'[1,null,{"Event":"Newchannel","Linkedid":"1.1"}]\n[2,null,{"Ev')
    assert inflight.load(path) == [(None, {"Event": "Newchannel", "Linkedid": "1.1"})]


async def test_each_recorded_call_is_one_log_line(tmp_path: Path) -> None:
    """The terminal (and journald) shows every call as it is recorded."""
    from structlog.testing import capture_logs

    recorder = Recorder()
    feed = feed_for(recorder)
    feed.start()
    with capture_logs() as logs:
        for event in [*ringing_to_did(), *calls.hangups()]:
            feed.on_event(event)
        await feed.stop(grace=5)
    lines = [(e["call_id"], e["direction"], e["client"]) for e in logs if e["event"] == "call.recorded"]
    assert lines == [(c.id, "inbound", c.client) for c in recorder.calls] and len(lines) == 1

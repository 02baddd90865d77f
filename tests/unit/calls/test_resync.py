"""Adopting calls in progress from a CoreShowChannel snapshot (daemon restart, AMI reconnect).

The snapshot is made from what a first tracker saw of a real capture up to the middle of the
call, in the shape Asterisk lists channels; a second tracker starts from it and the rest of the
capture, as the daemon does after a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connector.calls.capture import AmiEvent
from connector.calls.model import Call
from connector.calls.resync import duration_seconds
from connector.calls.tracker import CallTracker

from .captures import load, tracker_for

NAME = "inbound_long_call"


def _snapshot(tracker: CallTracker, age: int) -> list[AmiEvent]:
    return [
        {
            "Event": "CoreShowChannel",
            "Channel": ch.name,
            "Uniqueid": ch.uniqueid,
            "Linkedid": ch.linkedid,
            "CallerIDNum": ch.caller_num,
            "CallerIDName": ch.caller_name,
            "Exten": ch.exten,
            "ChannelState": "6",
            "ChannelStateDesc": "Up",
            "BridgeId": ch.bridge or "",
            "Duration": f"0:00:{age:02d}",
        }
        for ch in tracker.channels.values()
    ]


def _restart_mid_call() -> tuple[list[Call], datetime]:
    capture = load(NAME)
    middle = max(i for i, e in enumerate(capture.events) if e["Event"] == "BridgeEnter") + 1
    before = tracker_for(capture)
    for event in capture.events[:middle]:
        before.feed(event)
    at = datetime.fromtimestamp(float(str(capture.events[middle]["Timestamp"])), UTC)
    after = tracker_for(capture)
    for item in _snapshot(before, 5):
        after.feed(item, at)
    calls = [x for e in capture.events[middle:] for x in after.feed(e) if isinstance(x, Call)]
    return calls, at


def test_call_adopted_mid_call_is_answered_by_the_right_employee() -> None:
    calls, _ = _restart_mid_call()
    want = load(NAME).truth or []
    assert [(c.direction.value, c.client, c.answered_by, c.interrupted) for c in calls] == [
        (t["direction"], t["client"], t["answered_by"], False) for t in want
    ]


def test_adopted_call_starts_when_its_oldest_channel_was_created() -> None:
    calls, at = _restart_mid_call()
    assert [(at - c.started_at).total_seconds() for c in calls] == [5.0]


def test_a_call_first_seen_after_it_began_keeps_its_caller_as_the_client() -> None:
    """The daemon attached while the call was ringing: the first event it saw is the Newchannel of
    the dialled phone, a later leg. The channel whose uniqueid is the linkedid, named later,
    started the call; the phone that happened to be seen first did not."""
    capture = load(NAME)
    later_leg = next(
        i
        for i, e in enumerate(capture.events)
        if e["Event"] == "Newchannel" and e["Uniqueid"] != e["Linkedid"]
    )
    tracker = tracker_for(capture)
    calls = [x for e in capture.events[later_leg:] for x in tracker.feed(e) if isinstance(x, Call)]
    want = load(NAME).truth or []
    assert [(c.direction.value, c.client, c.answered_by) for c in calls] == [
        (t["direction"], t["client"], t["answered_by"]) for t in want
    ]


def test_durations_are_read_as_hours_minutes_seconds() -> None:
    assert (duration_seconds("25:01:02"), duration_seconds("bad")) == (90062, None)

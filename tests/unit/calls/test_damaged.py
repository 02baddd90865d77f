"""The tracker and the readers on damaged input: truncated, duplicated, shuffled, garbage,
unknown events, lost hangups, attaching in the middle of calls."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.calls.capture import AmiEvent, Capture, format_ami, parse_capture, read_capture
from connector.calls.model import Call
from connector.calls.truth import compare

from .captures import CAPTURES, load, replay, tracker_for
from .synthetic import Story, run

# The captures are part of the repository: in CI their absence is a failure, not a skip.
if not CAPTURES and os.environ.get("CI") == "true":
    raise RuntimeError("no recorded captures in tests/fixtures/ami")
pytestmark = pytest.mark.skipif(not CAPTURES, reason="no recorded captures in tests/fixtures/ami")

# Stories with one answered call: a ring group (Local channels) first, the simplest last.
PREFERRED = ("inbound_ringgroup_answered", "inbound_queue_answered", "inbound_direct_answered")


@pytest.fixture
def capture() -> Capture:
    names = {path.stem for path in CAPTURES}
    return load(next((name for name in PREFERRED if name in names), CAPTURES[0].stem))


def _end(capture: Capture) -> datetime:
    return datetime.fromtimestamp(float(str(capture.events[-1]["Timestamp"])), UTC)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_shuffled_duplicates_change_nothing(path: Path) -> None:
    capture = read_capture(path)
    rng = random.Random(7)
    events = list(capture.events)
    for index in sorted(rng.sample(range(len(events)), len(events) // 3), reverse=True):
        events.insert(min(len(events), index + rng.randint(1, 4)), dict(events[index]))
    assert compare(replay(capture, events), capture.truth or []) == []


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_random_lost_events_leave_no_state_after_closing(path: Path) -> None:
    capture = read_capture(path)
    rng = random.Random(11)
    tracker = tracker_for(capture)
    for event in capture.events:
        if rng.random() > 0.1:
            tracker.feed(event)
    tracker.close_all()
    assert (
        tracker.skipped,
        tracker.channels,
        tracker.conversations,
        tracker.bridges,
        tracker.by_linkedid,
    ) == (0, {}, set(), {}, {})


def test_unknown_events_change_nothing(capture: Capture) -> None:
    bogus: AmiEvent = {
        "Event": "SomethingNew",
        "Uniqueid": str(capture.events[0]["Uniqueid"]),
        "Linkedid": "zzz",
    }
    events = [e for pair in zip(capture.events, [bogus] * len(capture.events), strict=True) for e in pair]
    assert compare(replay(capture, events), capture.truth or []) == []


def test_garbage_lines_in_ami_text_warn_and_change_nothing(capture: Capture) -> None:
    text = "".join(
        format_ami(e) + ("%%% line noise\r\n" if i % 10 == 0 else "") for i, e in enumerate(capture.events)
    )
    damaged = parse_capture(text, "ami")
    assert damaged.warnings and compare(replay(capture, damaged.events), capture.truth or []) == []


def test_truncated_capture_warns_and_closes_what_was_open(capture: Capture) -> None:
    text = json.dumps({"events": capture.events})
    cut = parse_capture(text[: len(text) // 2])
    calls = replay(capture, cut.events)
    assert cut.warnings and [c.interrupted for c in calls] == [True]


def test_malformed_values_are_skipped_not_raised(capture: Capture) -> None:
    tracker = tracker_for(capture)
    for event in capture.events:
        tracker.feed(
            {**event, "Timestamp": "not-a-time", "Cause": "x"} if event["Event"] == "Hangup" else event
        )
    assert tracker.in_progress == 0


def test_event_of_the_wrong_shape_is_counted_and_tracking_goes_on(capture: Capture) -> None:
    tracker = tracker_for(capture)
    tracker.feed({"Event": "Newchannel", "Uniqueid": "u1", "Channel": 7})  # type: ignore[dict-item]
    calls = [x for e in capture.events for x in tracker.feed(e) if isinstance(x, Call)]
    assert (tracker.skipped, len(calls)) == (1, len(capture.truth or []))


def test_lost_hangup_is_closed_by_the_lifetime_limit(capture: Capture) -> None:
    events = [e for e in capture.events if not (e["Event"] == "Hangup" and e["Uniqueid"] == e["Linkedid"])]
    tracker = tracker_for(capture)
    for event in events:
        tracker.feed(event)
    later = _end(capture) + timedelta(seconds=tracker.rules.max_call_seconds + 1)
    assert [c.interrupted for c in tracker.expire(later)] == [True]


def test_expired_call_ends_at_its_last_sign_of_life(capture: Capture) -> None:
    events = [e for e in capture.events if not (e["Event"] == "Hangup" and e["Uniqueid"] == e["Linkedid"])]
    tracker = tracker_for(capture)
    for event in events:
        tracker.feed(event)
    later = _end(capture) + timedelta(seconds=tracker.rules.max_call_seconds + 1)
    assert [c.ended_at <= _end(capture) for c in tracker.expire(later)] == [True]


def test_expire_keeps_calls_within_their_lifetime(capture: Capture) -> None:
    tracker = tracker_for(capture)
    for event in capture.events[: len(capture.events) // 2]:
        tracker.feed(event)
    assert tracker.expire(_end(capture)) == [] and tracker.in_progress == 1


def test_attaching_mid_call_still_reports_the_call(capture: Capture) -> None:
    first_bridge = next(i for i, e in enumerate(capture.events) if e["Event"] == "BridgeEnter")
    calls = replay(capture, capture.events[first_bridge:])
    assert [(c.direction.value, c.client) for c in calls] == [
        (t["direction"], t["client"]) for t in capture.truth or []
    ]


def test_lost_bridge_events_still_show_who_answered(capture: Capture) -> None:
    events = [e for e in capture.events if not str(e["Event"]).startswith("Bridge")]
    calls = replay(capture, events)
    truth = capture.truth or []
    assert [(c.disposition.value, c.answered_by) for c in calls] == [
        (t["disposition"], t["answered_by"]) for t in truth
    ]


def test_bridge_merge_moves_channels_like_enter_events(capture: Capture) -> None:
    events = list(capture.events)
    enters = [i for i, e in enumerate(events) if e["Event"] == "BridgeEnter"]
    first, bridge = enters[0], str(events[enters[0]]["BridgeUniqueid"])
    second = next(i for i in enters[1:] if events[i]["BridgeUniqueid"] == bridge)
    events[first] = {**events[first], "BridgeUniqueid": "elsewhere"}
    merge: AmiEvent = {
        "Event": "BridgeMerge",
        "Timestamp": str(events[second]["Timestamp"]),
        "FromBridgeUniqueid": "elsewhere",
        "ToBridgeUniqueid": bridge,
    }
    events.insert(second + 1, merge)
    assert [c.legs for c in replay(capture, events)] == [c.legs for c in replay(capture)]


def test_late_events_after_the_end_start_no_ghost_call(capture: Capture) -> None:
    events = capture.events + capture.events[: len(capture.events) // 2]
    calls = [c for c in replay(capture, events) if isinstance(c, Call)]
    assert len(calls) == len(capture.truth or [])


def test_alive_channels_lists_the_call_in_progress(capture: Capture) -> None:
    tracker = tracker_for(capture)
    for event in capture.events[: len(capture.events) // 2]:
        tracker.feed(event)
    assert {ch.call_id for ch in tracker.alive_channels()} == {c.call_id for c in tracker.conversations}


def test_close_missing_closes_calls_whose_channels_are_gone(capture: Capture) -> None:
    tracker = tracker_for(capture)
    for event in capture.events[: len(capture.events) // 2]:
        tracker.feed(event)
    calls = tracker.close_missing(set(), _end(capture))
    assert [c.interrupted for c in calls] == [True] and tracker.alive_channels() == []


def test_close_missing_keeps_calls_asterisk_still_has(capture: Capture) -> None:
    tracker = tracker_for(capture)
    for event in capture.events[: len(capture.events) // 2]:
        tracker.feed(event)
    alive = {ch.uniqueid for ch in tracker.alive_channels()}
    assert tracker.close_missing(alive, _end(capture)) == [] and tracker.in_progress == 1


def test_memory_does_not_grow_with_calls_handled() -> None:
    capture = load(CAPTURES[0].stem)
    tracker = tracker_for(capture)
    for copy in range(50):
        for event in capture.events:
            tracker.feed(
                {k: f"c{copy}-{v}" if k.endswith(("Uniqueid", "Linkedid")) else v for k, v in event.items()}
            )
    assert (
        len(tracker.channels),
        len(tracker.conversations),
        len(tracker.by_linkedid),
        len(tracker.bridges),
    ) == (0, 0, 0, 0)


def test_a_conversation_formed_again_on_a_finished_linkedid_is_a_second_record() -> None:
    """The client's call ends; later a channel the tracker ignores (an announcer) dials 202 under
    the same linkedid. Both are recorded, the second under its own id: a record never overwrites
    the first one (the CRMs file calls by id)."""
    story = Story()
    client = story.chan("SIP/trunk-00000001", number="74957778899", exten="74951110001")
    phone = story.chan("SIP/201-00000002", linkedid=client.uniqueid, number="201", context="internal")
    story.new(client)
    story.app(client, "Dial", "SIP/201")
    story.new(phone)
    story.dial(client, phone, "201")
    story.state(phone, "6")
    story.dial_end(client, phone, "ANSWER")
    story.bridge("b-1", client, phone)
    story.leave("b-1", client, phone)
    story.hangup(client)
    story.hangup(phone)
    later = story.chan("SIP/202-00000003", linkedid=client.uniqueid, number="202", context="internal")
    other = story.chan("SIP/203-00000004", linkedid=client.uniqueid, number="203", context="internal")
    story.new(later)
    story.state(later, "6")
    story.new(other)
    story.dial(later, other, "203")
    story.state(other, "6")
    story.dial_end(later, other, "ANSWER")
    story.bridge("b-2", later, other)
    story.leave("b-2", later, other)
    story.hangup(later, wait=5)
    story.hangup(other)
    calls = run(story.events)
    assert [(c.id, c.client, c.answered_by) for c in calls] == [
        (client.uniqueid, "+74957778899", "201"),
        (f"{client.uniqueid}-2", "202", "203"),
    ]

"""Time from the wire is data, never trusted alone: absurd, outlying or stepped event stamps lose no
call and close nothing (issue 15 defect 4, issue 25 item 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.calls.capture import AmiEvent, Capture, read_capture
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.calls.truth import compare

from .captures import CAPTURES, load, replay, tracker_for

ABSURD = ("99999999999999.0", "1e30", "1e11", "inf", "-inf", "nan", "-5")


def _answered() -> Capture:
    return load("inbound_direct_answered")


def _middle(capture: Capture) -> int:
    """The index of an event in the middle of the call (a bridge entry: the call is answered)."""
    return next(i for i, e in enumerate(capture.events) if e["Event"] == "BridgeEnter")


def _stamped(event: AmiEvent, stamp: str) -> AmiEvent:
    return {**event, "Timestamp": stamp}


@pytest.mark.parametrize("stamp", ABSURD)
def test_absurd_stamp_neither_raises_nor_loses_the_call(stamp: str) -> None:
    capture = _answered()
    events = list(capture.events)
    at = _middle(capture)
    events[at] = _stamped(events[at], stamp)
    assert compare(replay(capture, events), capture.truth or []) == []


@pytest.mark.parametrize("stamp", ABSURD)
def test_absurd_stamp_on_the_first_event_loses_nothing(stamp: str) -> None:
    capture = _answered()
    events = [_stamped(capture.events[0], stamp), *capture.events[1:]]
    assert compare(replay(capture, events), capture.truth or []) == []


@pytest.mark.parametrize("stamp", ["", "nan", None])
@pytest.mark.parametrize("count", [1, 2, 5])
def test_the_first_events_without_a_usable_stamp_take_the_first_known_time(
    stamp: str | None, count: int
) -> None:
    capture = _answered()
    blanked = [
        {k: v for k, v in e.items() if k != "Timestamp"} if stamp is None else _stamped(e, stamp)
        for e in capture.events[:count]
    ]
    assert compare(replay(capture, [*blanked, *capture.events[count:]]), capture.truth or []) == []


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("shift", [5 * 3600.0, -5 * 3600.0, 1e11])
def test_one_event_from_another_time_changes_no_recorded_call(path: Path, shift: float) -> None:
    capture = read_capture(path)
    events = list(capture.events)
    at = len(events) // 2
    stamp = float(str(events[at]["Timestamp"]))
    events[at] = _stamped(events[at], f"{stamp + shift:.6f}")
    assert compare(replay(capture, events), capture.truth or []) == []


class FakeMonotonic:
    """A monotonic reference that follows the capture's own stamps (as the daemon's would)."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def _live_replay(
    capture: Capture, events: list[AmiEvent], clock: FakeMonotonic
) -> tuple[CallTracker, list[Call]]:
    tracker = CallTracker(rules_from_numbering(capture.numbering), clock=clock)
    base = float(str(capture.events[0]["Timestamp"]))
    calls: list[Call] = []
    for original, event in zip(capture.events[: len(events)], events, strict=True):
        clock.value = 1000.0 + float(str(original["Timestamp"])) - base
        calls.extend(x for x in tracker.feed(event) if isinstance(x, Call))
    return tracker, calls


@pytest.mark.parametrize("shift", [5 * 3600.0, 1e30])
def test_with_a_reference_clock_an_outlier_is_replaced_and_expires_nothing(shift: float) -> None:
    capture = _answered()
    events = list(capture.events)
    at = _middle(capture)
    events[at] = _stamped(events[at], f"{float(str(events[at]['Timestamp'])) + shift}")
    tracker, calls = _live_replay(capture, events, FakeMonotonic())
    assert compare(calls, capture.truth or []) == [] and tracker.clock.rejected == 1


def test_a_wall_clock_jump_in_expire_closes_nothing_when_a_reference_runs() -> None:
    capture = _answered()
    clock = FakeMonotonic()
    tracker, _ = _live_replay(capture, capture.events[: _middle(capture) + 1], clock)
    later = datetime.now(UTC) + timedelta(days=3)
    assert tracker.expire(later) == [] and tracker.in_progress == 1


def test_a_stepped_pbx_clock_is_learned_after_three_events_that_agree() -> None:
    capture = _answered()
    clock = FakeMonotonic()
    step = 7200.0
    cut = _middle(capture)
    events = [
        _stamped(e, f"{float(str(e['Timestamp'])) + step:.6f}") if i >= cut else e
        for i, e in enumerate(capture.events)
    ]
    tracker, calls = _live_replay(capture, events, clock)
    assert [c.disposition.value for c in calls] == ["answered"] and tracker.clock.rejected == 2


def test_a_real_idle_gap_in_a_capture_is_kept() -> None:
    """Two calls an hour apart: the first event after the gap is confirmed by the next one."""
    capture = _answered()
    first = capture.events
    second = [
        {
            k: (
                f"{float(v) + 3600:.6f}"
                if k == "Timestamp"
                else v.replace(".", ".9", 1)
                if k.endswith(("Uniqueid", "Linkedid")) and isinstance(v, str)
                else v
            )
            for k, v in e.items()
        }
        for e in first
    ]
    calls = replay(capture, [*first, *second])
    gap = (calls[1].started_at - calls[0].started_at).total_seconds()
    assert len(calls) == 2 and abs(gap - 3600) < 1 and calls[1].talk_seconds == calls[0].talk_seconds


def test_a_newchannel_stamped_nan_keeps_the_resync_working() -> None:
    capture = _answered()
    tracker = tracker_for(capture)
    events = list(capture.events)
    events[0] = _stamped(events[0], "nan")
    for event in events[: _middle(capture) + 1]:
        tracker.feed(event)
    alive = {ch.uniqueid for ch in tracker.alive_channels()}
    after = datetime.fromtimestamp(float(str(events[-1]["Timestamp"])), UTC)
    closed = tracker.close_missing(set(), after)
    assert alive and [c.interrupted for c in closed] == [True] and tracker.skipped == 0
    assert closed[0].started_at.year >= 2000


def test_a_journal_replayed_after_a_restart_is_history_and_live_time_is_learned_afresh() -> None:
    """The daemon restarts two hours into a call: the journal's events are replayed at once into
    a tracker with a reference clock, then the call goes on live (issue 25 item 11 with item 8)."""
    capture = _answered()
    cut = max(i for i, e in enumerate(capture.events) if e["Event"] == "BridgeEnter") + 1  # answered
    gap = 7200.0
    clock = FakeMonotonic()
    tracker = CallTracker(rules_from_numbering(capture.numbering), clock=clock)
    with tracker.replaying():
        for event in capture.events[:cut]:
            tracker.feed(event)
    base = float(str(capture.events[cut]["Timestamp"])) + gap
    calls: list[Call] = []
    for event in capture.events[cut:]:
        stamp = float(str(event["Timestamp"])) + gap
        clock.value = 5000.0 + stamp - base
        calls.extend(x for x in tracker.feed(_stamped(event, f"{stamp:.6f}")) if isinstance(x, Call))
    want = float((capture.truth or [])[0]["talk_seconds"]) + gap
    assert [c.disposition.value for c in calls] == ["answered"] and tracker.clock.rejected == 0
    assert abs(calls[0].talk_seconds - want) < 2

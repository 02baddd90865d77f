"""Bounded tracker state and no phantom calls (issue 25 items 12 and 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connector.calls.capture import AmiEvent, read_capture
from connector.calls.model import Call
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker
from connector.calls.truth import compare

from .captures import CAPTURES, replay


def _inbound(n: int, at: float) -> list[AmiEvent]:
    uid = f"1795000000.{n}"
    channel = f"PJSIP/trunk-{n:08x}"
    snapshot = {"Channel": channel, "Uniqueid": uid, "Linkedid": uid, "CallerIDNum": f"7916{n:07d}"}
    return [
        {
            "Event": "Newchannel",
            "Timestamp": f"{at:.6f}",
            "ChannelState": "4",
            "Exten": "74951110001",
            **snapshot,
        },
        {"Event": "Newstate", "Timestamp": f"{at + 0.01:.6f}", "ChannelState": "6", **snapshot},
    ]


def test_calls_that_never_hang_up_are_shed_oldest_first_with_a_log_line() -> None:
    tracker = CallTracker(TrackerRules(max_calls_in_progress=100))
    shed: list[Call] = []
    with capture_logs() as logs:
        for n in range(1, 1001):
            for event in _inbound(n, 1795000000.0 + n):
                shed.extend(x for x in tracker.feed(event) if isinstance(x, Call))
    assert tracker.in_progress <= 100 and len(shed) + tracker.in_progress == 1000
    assert all(c.interrupted for c in shed) and shed[0].client == "+79160000001"
    assert sum(1 for entry in logs if entry["event"] == "calls.shed") == len(shed)


def test_channels_are_bounded_too() -> None:
    tracker = CallTracker(TrackerRules(max_channels=50))
    for n in range(1, 501):
        for event in _inbound(n, 1795000000.0 + n):
            tracker.feed(event)
    assert len(tracker.channels) <= 51


def _mangled_copies(event: AmiEvent) -> list[AmiEvent]:
    """What a damaged stream makes of one event: a truncated id, a message cut after its ids."""
    uid = str(event["Uniqueid"])
    cut = {k: v for k, v in list(event.items())[:6]}
    return [{**event, "Uniqueid": uid[:-1] + "9", "Linkedid": uid[:-1] + "9"}, {**cut, "Uniqueid": uid + "7"}]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_a_mangled_event_makes_no_phantom_call(path: Path) -> None:
    capture = read_capture(path)
    events = list(capture.events)
    first = next(e for e in events if e["Event"] == "Newchannel")
    middle = len(events) // 2
    damaged = [*events[:middle], *_mangled_copies(first), *events[middle:]]
    assert compare(replay(capture, damaged), capture.truth or []) == []

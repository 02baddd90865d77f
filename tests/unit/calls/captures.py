"""Shared helpers for the capture-driven tests: finding recorded captures and replaying them."""

from __future__ import annotations

from pathlib import Path

from connector.calls.capture import AmiEvent, Capture, read_capture
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"
CAPTURES = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> Capture:
    """The capture of scenario `name`."""
    return read_capture(FIXTURES / f"{name}.json")


def tracker_for(capture: Capture) -> CallTracker:
    """A tracker with the capture's numbering plan."""
    return CallTracker(rules_from_numbering(capture.numbering))


def replay(capture: Capture, events: list[AmiEvent] | None = None) -> list[Call]:
    """The calls the tracker emits for the capture's events (or `events`), leftovers closed."""
    tracker = tracker_for(capture)
    calls: list[Call] = []
    for event in capture.events if events is None else events:
        calls.extend(item for item in tracker.feed(event) if isinstance(item, Call))
    calls.extend(tracker.close_all())
    return calls


def replay_all(capture: Capture) -> tuple[CallTracker, list[Call | LiveEvent]]:
    """The tracker after a capture and everything it emitted, in order."""
    tracker = tracker_for(capture)
    out: list[Call | LiveEvent] = []
    for event in capture.events:
        out.extend(tracker.feed(event))
    return tracker, out

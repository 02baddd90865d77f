"""Every recorded capture replays to exactly the calls its ground truth lists.

Parametrised over all files in tests/fixtures/ami, so a new capture is checked automatically.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.calls.capture import read_capture
from connector.calls.model import Call, LiveKind
from connector.calls.truth import compare

from .captures import CAPTURES, replay, replay_all


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_capture_replays_to_its_truth(path: Path) -> None:
    capture = read_capture(path)
    assert capture.truth is not None
    assert compare(replay(capture), capture.truth) == []


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_capture_leaves_no_state_behind(path: Path) -> None:
    tracker, _ = replay_all(read_capture(path))
    assert (
        tracker.channels,
        tracker.conversations,
        tracker.bridges,
        tracker.by_linkedid,
        tracker.local_halves,
    ) == ({}, set(), {}, {}, {})


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_capture_emits_ended_before_each_call(path: Path) -> None:
    _, out = replay_all(read_capture(path))
    ended = [item.call_id for item in out if not isinstance(item, Call) and item.kind is LiveKind.ENDED]
    assert ended == [item.id for item in out if isinstance(item, Call)]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_capture_announces_every_ring_live(path: Path) -> None:
    _, out = replay_all(read_capture(path))
    rung = {item.exten for item in out if not isinstance(item, Call) and item.kind is LiveKind.RINGING}
    assert {ext for item in out if isinstance(item, Call) for ext in item.rang} <= rung

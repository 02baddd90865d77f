"""Shared pieces for the delivery tests: calls, a hand-driven clock, an outbox in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.calls.model import Call, Direction, Disposition
from connector.sync.outbox import Outbox

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def make_call(
    call_id: str = "1700000000.1", *, recording: bool = True, minutes: int = 0, **changes: object
) -> Call:
    """An answered inbound call, optionally with a recording."""
    start = T0 + timedelta(minutes=minutes)
    fields: dict[str, object] = {
        "id": call_id,
        "linkedids": (call_id,),
        "direction": Direction.INBOUND,
        "client": "+79161234567",
        "did": "74951110001",
        "started_at": start,
        "answered_at": start + timedelta(seconds=5),
        "ended_at": start + timedelta(seconds=65),
        "disposition": Disposition.ANSWERED,
        "rang": ("201",),
        "answered_by": "201",
        "recordings": (f"/rec/{call_id}.mp3",) if recording else (),
    }
    fields.update(changes)
    return Call(**fields)  # type: ignore[arg-type]


class Clock:
    """A wall clock moved by hand, so due times and leases are tested without waiting."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """A hand-driven clock."""
    return Clock()


@pytest.fixture
async def outbox(tmp_path: Path, clock: Clock) -> AsyncIterator[Outbox]:
    """An outbox file in tmp_path on the hand-driven clock."""
    box = await Outbox.open(tmp_path / "outbox.db", clock=clock)
    yield box
    await box.close()

"""The tracker's clock: the events' time is data, checked before it is believed.

Every AMI event carries Asterisk's `Timestamp`, and the call records are built from it (start,
answer, legs). One event with an absurd stamp (`1e30`, `inf`, `nan`, a clock stepped by hours)
must not move the tracker's idea of "now", or the lifetime check closes every call in progress
and a `nan` reaches `datetime.fromtimestamp` and costs the call. So a stamp is used only if it is

- a number, finite, between 2000 and 2100 (else it is *bad*: never used); and
- in line with the clock so far (else it is an *outlier*):
  - with a reference clock (the daemon passes `time.monotonic`), the stamp must agree within
    `tolerance` with the reference plus the offset learned from earlier stamps; when three
    outliers in a row agree with each other, the PBX's clock was stepped and the new offset is
    learned;
  - without one (replaying a capture), a stamp more than `tolerance` away from the previous
    event's is a *suspect*: the tracker holds that event back until the next one, and uses the
    stamp only if the next event confirms it (a real gap: the PBX was idle); else the event is
    an outlier.

An event without a usable stamp takes the reference's time (with the learned offset), else the
previous event's time plus 1 ms, so events keep their order. Each rejected stamp is logged once,
with its event name; after `LOGGED_REJECTIONS` only every thousandth is.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from connector import logs

log = logs.get_logger(__name__)

MIN_EPOCH = 946_684_800.0  # 2000-01-01: no PBX event is older
MAX_EPOCH = 4_102_444_800.0  # 2100-01-01: and none is younger
TICK = 0.001  # the time an event without a usable stamp is given after the previous one
STEP_CONFIRMATIONS = 3  # outliers in a row, agreeing with each other, that mean a stepped clock
LOGGED_REJECTIONS = 20


def parse_stamp(value: object) -> float | None:
    """An event time from a header value, or None when it is absent, not a number or absurd."""
    if not isinstance(value, str):
        return None
    try:
        stamp = float(value)
    except ValueError:
        return None
    return stamp if MIN_EPOCH <= stamp <= MAX_EPOCH else None  # nan and inf fail the comparison


def sane(at: float) -> float:
    """`at` clamped into the range a datetime can hold (the last guard before records)."""
    if not math.isfinite(at):
        return MIN_EPOCH
    return min(max(at, MIN_EPOCH), MAX_EPOCH)


class EventClock:
    """Decides each event's time from its stamp, a reference clock and the time so far."""

    def __init__(self, tolerance: float, reference: Callable[[], float] | None = None) -> None:
        self.tolerance = tolerance
        self.reference = reference
        self.now = 0.0
        self.rejected = 0  # stamps not used: bad or outliers
        self._started = False
        # True while a good stamp within `tolerance` of `now` may be taken as it is, without a
        # decision (no reference clock, the clock started, no event held): `CallTracker.feed`'s
        # fast path, which then sets `now` itself.
        self.plain = False
        self._offset: float | None = None  # event time minus reference time
        self._strays: list[float] = []  # offsets of the outliers in a row

    def relearn(self) -> None:
        """Forget the reference's offset: the next good stamp sets it (after a journal replay)."""
        self._offset = None
        self._strays.clear()
        self.plain = self._started and self.reference is None

    def stamp(self, raw: object, event_name: object) -> float | None:
        """The event's stamp if it is a usable number; a present but bad one is logged."""
        stamp = parse_stamp(raw)
        if stamp is None and raw not in (None, ""):
            self._reject("bad", raw, event_name)
        return stamp

    def suspect(self, stamp: float | None, bad: bool = False) -> bool:
        """Whether the event must wait for the next one: its stamp was `bad` (unusable or absent)
        before any good one (its time is unknown: it takes the next event's), or, without a reference, `stamp`
        jumps too far to be believed before the next event confirms it."""
        if bad and not self._started:
            return True
        if self.reference is not None or stamp is None or not self._started:
            return False
        return abs(stamp - self.now) > self.tolerance

    def confirms(self, held: float, stamp: float | None) -> bool:
        """Whether the next event's `stamp` confirms the held suspect stamp `held`."""
        return stamp is not None and abs(stamp - held) <= self.tolerance

    def advance(self, stamp: float | None, fallback: float | None = None, event_name: object = "") -> float:
        """Move to the time of the next event (`stamp` None: no usable stamp; `fallback` for it)."""
        if stamp is None:
            stamp = fallback
            if stamp is None or not MIN_EPOCH <= stamp <= MAX_EPOCH:
                self.now = self._estimate()
                return self.now
        if self.reference is not None:
            stamp = self._checked(stamp, event_name)
        self.now = stamp
        self._started = True
        self.plain = self.reference is None
        return self.now

    def outlier(self, stamp: float, event_name: object) -> float:
        """A held suspect stamp was not confirmed: the event gets the estimated time instead."""
        self._reject("outlier", stamp, event_name)
        self.now = self._estimate()
        return self.now

    def current(self, fallback: float | None = None) -> float:
        """The time now, for a check between events (expiry, a resync): the reference's time if
        there is one, else `fallback` (the caller's wall clock) when sane, never before the last
        event."""
        if self.reference is not None and self._offset is not None:
            return max(self.now, self.reference() + self._offset)
        if fallback is not None and MIN_EPOCH <= fallback <= MAX_EPOCH:
            return max(self.now, fallback)
        return self.now

    def _checked(self, stamp: float, event_name: object) -> float:
        assert self.reference is not None
        ref = self.reference()
        offset = stamp - ref
        if self._offset is None or abs(offset - self._offset) <= self.tolerance:
            self._offset = offset
            self._strays.clear()
            return stamp
        self._strays.append(offset)
        if (
            len(self._strays) >= STEP_CONFIRMATIONS
            and max(self._strays) - min(self._strays) <= self.tolerance
        ):
            log.warning("calls.clock_stepped", by_seconds=round(offset - self._offset, 3))
            self._offset = offset
            self._strays.clear()
            return stamp
        del self._strays[:-STEP_CONFIRMATIONS]
        self._reject("outlier", stamp, event_name)
        return ref + self._offset

    def _estimate(self) -> float:
        if self.reference is not None and self._offset is not None:
            return max(self.now, self.reference() + self._offset)
        return self.now + TICK

    def _reject(self, kind: str, raw: object, event_name: object) -> None:
        self.rejected += 1
        if self.rejected <= LOGGED_REJECTIONS or self.rejected % 1000 == 0:
            log.warning(
                "calls.event_time_rejected",
                kind=kind,
                stamp=str(raw)[:40],
                ami_event=str(event_name)[:40],
                rejected=self.rejected,
            )

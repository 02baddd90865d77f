"""The call tracker: AMI events in, live call events and finished calls out.

Pure and synchronous: no I/O, no clock of its own, deterministic. Feed it every AMI event in
the order Asterisk sent it::

    tracker = CallTracker(rules_from_settings(settings))
    for item in tracker.feed(event):          # event: header -> value (a list if repeated)
        ...                                    # a LiveEvent (ringing/answered/transferred/ended)
                                               # or a finished Call
    tracker.expire(now)                        # periodically: close calls past their lifetime
    tracker.alive_channels()                   # after an AMI reconnect: what the tracker holds,
    tracker.close_missing(alive_uniqueids, at) # ... and close what Asterisk no longer has

Time comes from each event's `Timestamp` header (manager.conf `timestampevents = yes`), checked
by `clock.EventClock` (a bad or outlying stamp is never believed: see clock.py), else from the
`at` argument of `feed`, else it is the previous event's time plus 1 ms (so a capture without
timestamps keeps its order, and its durations mean nothing). The daemon passes a monotonic
`clock` as the reference the stamps are checked against. Every call silent (no event about any
of its channels) for longer than `rules.max_call_seconds` is closed with `interrupted=True`, by
`expire` (which spares calls whose channels Asterisk still lists) and, in a replay (no reference
clock), also by `feed` itself once per `rules.expiry_check_seconds` of event time. At most
`rules.max_calls_in_progress` calls and `rules.max_channels` channels are followed: past that
the oldest calls are closed the same way (logged as `calls.shed`).

`expire`, `close_missing` and `close_all` return only the calls they close (no `ended` live
event: the `Call` with `interrupted=True` says it). Such a call ends at its last sign of life,
the last event seen about any of its channels. `CoreShowChannel` items (the reconnect
snapshot) may be fed like events, with `at`: unknown channels are adopted with their age and
bridge, so a call in progress while the daemon was away is still reported, and answered.

Unknown events are ignored; duplicated ones are harmless; events about channels that already
hung up are ignored (so one tracker never replays the same capture twice: give each replay
fresh uniqueids, or a fresh tracker); an event the tracker cannot make sense of is skipped and counted in
`skipped` (its reason kept in `problems`, the last 100).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from connector.calls import bridges, channels, dialplan, dials, interception, queues, resync, transfers
from connector.calls.clock import EventClock, parse_stamp
from connector.calls.core import AmiEvent, Emitted, Tracking
from connector.calls.model import Call
from connector.calls.rules import TrackerRules
from connector.calls.state import Conversation

Handler = Callable[[Tracking, AmiEvent], None]

HANDLERS: Mapping[str, Handler] = {
    "Newchannel": channels.on_channel,
    "Newstate": channels.on_channel,
    "CoreShowChannel": resync.on_core_show_channel,
    "NewCallerid": channels.on_caller_id,
    "Rename": channels.on_rename,
    "LocalBridge": channels.on_local_bridge,
    "HangupRequest": channels.on_hangup_request,
    "Hangup": channels.on_hangup,
    "DialBegin": dials.on_dial_begin,
    "DialEnd": dials.on_dial_end,
    "OriginateResponse": dials.on_originate_response,
    "BridgeEnter": bridges.on_bridge_enter,
    "BridgeLeave": bridges.on_bridge_leave,
    "BridgeDestroy": bridges.on_bridge_destroy,
    "BridgeMerge": bridges.on_bridge_merge,
    "BlindTransfer": transfers.on_blind_transfer,
    "AttendedTransfer": transfers.on_attended_transfer,
    "Pickup": transfers.on_pickup,
    "QueueCallerJoin": queues.on_queue_join,
    "VarSet": dialplan.on_var_set,
    "Newexten": dialplan.on_new_exten,
    "UserEvent": interception.on_user_event,
}


HELD_EVENTS = 64  # events of unknown time held until one with a known time (else: estimated)
# What a handler raises on an event of the wrong shape: the event is skipped, never the tracker.
_BAD_EVENT = (KeyError, ValueError, TypeError, AttributeError, OverflowError)


@dataclass(frozen=True, slots=True)
class TrackedChannel:
    """A channel the tracker believes is alive (for the AMI reconnect resync)."""

    uniqueid: str
    name: str
    linkedid: str
    call_id: str


class CallTracker(Tracking):
    """Follows AMI events and turns them into live events and one `Call` per conversation."""

    def __init__(self, rules: TrackerRules | None = None, clock: Callable[[], float] | None = None) -> None:
        super().__init__(rules or TrackerRules())
        self.skipped = 0
        self.problems: deque[str] = deque(maxlen=100)
        self.clock = EventClock(self.rules.clock_tolerance_seconds, clock)
        self._replay = clock is None  # no reference clock: expire by event time (see _handle)
        self._next_expiry = 0.0
        # Events waiting for their time (see clock.py): one with a suspect stamp, or those with
        # none before the clock started (None in place of the stamp; at most HELD_EVENTS).
        self._held: list[tuple[AmiEvent, float | None]] = []

    def feed(self, event: AmiEvent, at: datetime | None = None) -> list[Emitted]:
        """Process one AMI event; what it produced, in order (live events and finished calls)."""
        stamp = parse_stamp(event.get("Timestamp"))
        clock = self.clock
        if stamp is not None and clock.plain and -clock.tolerance <= stamp - clock.now <= clock.tolerance:
            # The usual case (no reference clock, nothing held): a good stamp in line with the last.
            self.now = clock.now = stamp
            name = event.get("Event")
            handler = HANDLERS.get(name) if isinstance(name, str) else None
            if handler is None or self.now >= self._next_expiry:
                self._handle(event)
            else:
                try:
                    handler(self, event)
                except _BAD_EVENT as exc:
                    self._skip(name, exc)
        else:
            self._feed_checked(event, stamp, at)
        out, self.out = self.out, []
        return out

    def _feed_checked(self, event: AmiEvent, stamp: float | None, at: datetime | None) -> None:
        """`feed` for an event whose time needs a decision (see clock.py)."""
        name = event.get("Event")
        raw = event.get("Timestamp")
        fallback = at.timestamp() if at is not None else None
        if stamp is None:
            self.clock.stamp(raw, name)  # logs a bad one
        # No usable stamp before the clock has started (bad, or absent with no caller's time):
        # the event's time is unknown, so it waits for the first event whose time is known.
        unknown = stamp is None and (raw not in (None, "") or at is None)
        if self._held:
            first, first_stamp = self._held[0]
            if first_stamp is None:  # events of unknown time before the clock started
                if unknown and len(self._held) < HELD_EVENTS:
                    self._held.append((event, None))
                    return
                held, self._held = self._held, []
                for waiting, _ in held:  # they take this event's time, in their order
                    self.now = self.clock.advance(stamp, fallback, name)
                    self._handle(waiting)
            else:  # a suspect stamp, confirmed or not by this event's
                self._held = []
                if self.clock.confirms(first_stamp, stamp):
                    self.now = self.clock.advance(first_stamp)
                else:
                    self.now = self.clock.outlier(first_stamp, first.get("Event"))
                self._handle(first)
        if self.clock.suspect(stamp, bad=unknown):
            self._held.append((event, stamp))
            self.clock.plain = False  # the next event decides this one's time first
        else:
            self.now = self.clock.advance(stamp, fallback, name)
            self._handle(event)

    def _handle(self, event: AmiEvent) -> None:
        name = event.get("Event")
        handler = HANDLERS.get(name) if isinstance(name, str) else None
        try:
            if handler is not None:
                handler(self, event)
            else:
                self._follow_linkedid(event)
        except _BAD_EVENT as exc:
            self._skip(name, exc)
        if self.now >= self._next_expiry and self._replay:
            # Replays expire by event time; a daemon (with a reference clock) expires by `expire`,
            # after asking Asterisk which channels are alive.
            self._next_expiry = self.now + self.rules.expiry_check_seconds
            self._expire_at(self.now)

    @contextlib.contextmanager
    def replaying(self) -> Iterator[None]:
        """Feed past events (a journal saved before a restart) inside this block: their stamps are
        history, not now, so they are checked as a replay's are (against each other, not against
        the reference clock), and the reference's offset is learned afresh from the next live
        event."""
        reference = self.clock.reference
        self.clock.reference, self._replay = None, True
        try:
            yield
        finally:
            self._settle()
            self.clock.reference, self._replay = reference, reference is None
            self.clock.relearn()

    def _skip(self, name: object, exc: Exception) -> None:
        """An event the tracker could not make sense of: counted, its reason kept."""
        self.skipped += 1
        self.problems.append(f"{name!s}: {type(exc).__name__}: {exc}")

    def _settle(self, at: datetime | None = None) -> None:
        """Before a check between events: process a held event (its stamp was never confirmed)
        and move the clock to the reference's time (or `at`, the caller's clock)."""
        held, self._held = self._held, []
        for waiting, waiting_stamp in held:
            self.now = (
                self.clock.advance(None)
                if waiting_stamp is None
                else self.clock.outlier(waiting_stamp, waiting.get("Event"))
            )
            self._handle(waiting)
        self.now = self.clock.current(at.timestamp() if at is not None else None)

    def _follow_linkedid(self, event: AmiEvent) -> None:
        uid = event.get("Uniqueid")
        if isinstance(uid, str):
            found = self.channels.get(uid)
            linkedid = event.get("Linkedid")
            if found is None:
                return
            found.seen = self.now
            found.events += 1
            if isinstance(linkedid, str) and linkedid and linkedid != found.linkedid:
                self.relink(found, linkedid)

    def expire(self, now: datetime, alive: Collection[str] | None = None) -> list[Call]:
        """Close (interrupted) every call silent for more than `max_call_seconds` before `now`.

        `now` counts only without a reference clock (with one, the reference says what time it
        is: a wall clock stepped by hours closes nothing). A call with a channel in `alive` (the
        uniqueids Asterisk has now, when the caller asked it) is never closed.
        """
        self._settle(now)
        if alive is not None:
            living = set(alive)
            for uid in living & self.channels.keys():
                self.channels[uid].seen = self.now
        self._expire_at(self.now)
        return self._calls_out()

    def expiry_due(self, now: datetime) -> bool:
        """Whether some call in progress has been silent for more than `max_call_seconds`."""
        self._settle(now)
        limit = self.now - self.rules.max_call_seconds
        return any(self._last_sign(c) < limit for c in self.conversations)

    def _expire_at(self, now: float) -> None:
        limit = now - self.rules.max_call_seconds
        for conv in [c for c in self.conversations if self._last_sign(c) < limit]:
            self.finish(conv, interrupted=True)

    def _last_sign(self, conv: Conversation) -> float:
        """The time of the last event about any of the conversation's channels."""
        last = conv.started
        for uid in conv.channels:
            channel = self.channels.get(uid)
            if channel is not None and channel.seen > last:
                last = channel.seen
        return last

    def alive_channels(self) -> list[TrackedChannel]:
        """The channels the tracker believes are alive, with their conversation ids."""
        self._settle()
        return [
            TrackedChannel(ch.uniqueid, ch.name, ch.linkedid, self.conv_of(ch).call_id)
            for ch in self.channels.values()
        ]

    def close_missing(self, alive_uniqueids: Collection[str], at: datetime) -> list[Call]:
        """After a reconnect: drop channels Asterisk no longer has; close conversations left empty.

        A conversation with none of its channels alive is closed with `interrupted=True`; one
        that still has some keeps going without the missing ones.
        """
        self._settle(at)
        alive = set(alive_uniqueids)
        for conv in list(self.conversations):
            gone = conv.channels - alive
            if gone == conv.channels:
                self.finish(conv, interrupted=True)
                continue
            for uid in gone:
                channel = self.channels.get(uid)
                if channel is not None:
                    self.remove_channel(channel, None)
        return self._calls_out()

    def close_all(self, at: datetime | None = None) -> list[Call]:
        """Close every conversation in progress (interrupted): the end of a capture or shutdown."""
        self._settle(at)
        for conv in list(self.conversations):
            self.finish(conv, interrupted=True)
        return self._calls_out()

    def _calls_out(self) -> list[Call]:
        calls = [item for item in self.out if isinstance(item, Call)]
        self.out = []
        return calls

    @property
    def in_progress(self) -> int:
        """How many conversations are being followed."""
        return len(self.conversations)

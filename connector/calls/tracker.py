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

Time comes from each event's `Timestamp` header (manager.conf `timestampevents = yes`), else
from the `at` argument of `feed`, else it is the previous event's time plus 1 ms (so a capture
without timestamps keeps its order, and its durations mean nothing). Every call whose start is
older than `rules.max_call_seconds` is closed with `interrupted=True`, by `expire` and also by
`feed` itself once per `rules.expiry_check_seconds` of event time.

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

from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from connector.calls import bridges, channels, dialplan, dials, interception, queues, resync, transfers
from connector.calls.core import AmiEvent, Emitted, Tracking
from connector.calls.model import Call
from connector.calls.rules import TrackerRules

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


@dataclass(frozen=True, slots=True)
class TrackedChannel:
    """A channel the tracker believes is alive (for the AMI reconnect resync)."""

    uniqueid: str
    name: str
    linkedid: str
    call_id: str


class CallTracker(Tracking):
    """Follows AMI events and turns them into live events and one `Call` per conversation."""

    def __init__(self, rules: TrackerRules | None = None) -> None:
        super().__init__(rules or TrackerRules())
        self.skipped = 0
        self.problems: deque[str] = deque(maxlen=100)
        self._next_expiry = 0.0

    def feed(self, event: AmiEvent, at: datetime | None = None) -> list[Emitted]:
        """Process one AMI event; what it produced, in order (live events and finished calls)."""
        self._advance(event, at)
        name = event.get("Event")
        handler = HANDLERS.get(name) if isinstance(name, str) else None
        try:
            if handler is not None:
                handler(self, event)
            else:
                self._follow_linkedid(event)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            self.skipped += 1
            self.problems.append(f"{name!s}: {type(exc).__name__}: {exc}")
        if self.now >= self._next_expiry:
            self._next_expiry = self.now + self.rules.expiry_check_seconds
            self._expire_at(self.now)
        out, self.out = self.out, []
        return out

    def _advance(self, event: AmiEvent, at: datetime | None) -> None:
        stamp = event.get("Timestamp")
        if isinstance(stamp, str):
            try:
                self.now = float(stamp)
                return
            except ValueError:
                pass
        self.now = at.timestamp() if at is not None else self.now + 0.001

    def _follow_linkedid(self, event: AmiEvent) -> None:
        uid = event.get("Uniqueid")
        if isinstance(uid, str):
            found = self.channels.get(uid)
            linkedid = event.get("Linkedid")
            if found is None:
                return
            found.seen = self.now
            if isinstance(linkedid, str) and linkedid and linkedid != found.linkedid:
                self.relink(found, linkedid)

    def expire(self, now: datetime) -> list[Call]:
        """Close (interrupted) every call that started more than `max_call_seconds` before `now`."""
        self.now = max(self.now, now.timestamp())
        self._expire_at(self.now)
        return self._calls_out()

    def _expire_at(self, now: float) -> None:
        limit = now - self.rules.max_call_seconds
        for conv in [c for c in self.conversations if c.started < limit]:
            self.finish(conv, interrupted=True)

    def alive_channels(self) -> list[TrackedChannel]:
        """The channels the tracker believes are alive, with their conversation ids."""
        return [
            TrackedChannel(ch.uniqueid, ch.name, ch.linkedid, self.conv_of(ch).call_id)
            for ch in self.channels.values()
        ]

    def close_missing(self, alive_uniqueids: Collection[str], at: datetime) -> list[Call]:
        """After a reconnect: drop channels Asterisk no longer has; close conversations left empty.

        A conversation with none of its channels alive is closed with `interrupted=True`; one
        that still has some keeps going without the missing ones.
        """
        self.now = max(self.now, at.timestamp())
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
        if at is not None:
            self.now = max(self.now, at.timestamp())
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

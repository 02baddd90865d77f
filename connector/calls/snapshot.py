"""The AMI events of the calls in progress, kept so a restart can resume each call whole.

A restart used to lose what the tracker knew: calls whose channels ended while the daemon was
down were never recorded, and calls still alive came back from `CoreShowChannels` without their
DID or history. The tracker is pure (events in, calls out), so the surest snapshot of its state
is the events that built it: `EventLog` keeps every event that names a linkedid of a call in
progress (any `…Linkedid` header), and forgets them once that call is written. Replaying
`journal()` into a fresh tracker rebuilds each conversation as it was — DID, rings, answer,
transfers — and the next AMI resync closes those whose channels are gone, once.

Pure and bounded: at most `max_calls` linkedids and `max_events_per_call` events each; a call
past that is left to the `CoreShowChannels` adoption (logged by the caller as `overflowed`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from connector.calls.core import AmiEvent
from connector.calls.model import Call

MAX_CALLS = 20_000
MAX_EVENTS_PER_CALL = 2_000

Entry = tuple[float | None, dict[str, str | list[str]]]
"""One journalled event: the `at` it was fed with (CoreShowChannel items) and the event."""


def linkedids_of(event: AmiEvent) -> set[str]:
    """Every linkedid an event names (Linkedid, DestLinkedid, TransfererLinkedid, ...)."""
    return {v for k, v in event.items() if k.endswith("Linkedid") and isinstance(v, str) and v}


@dataclass(slots=True)
class EventLog:
    """Events by linkedid, in arrival order, for the calls in progress and those not yet written."""

    max_calls: int = MAX_CALLS
    max_events_per_call: int = MAX_EVENTS_PER_CALL
    changes: int = 0  # bumped on every change: a writer saves only when it moved
    overflowed: int = 0  # linkedids given up on (too many events or calls)
    _seq: int = 0
    _events: dict[int, Entry] = field(default_factory=dict)
    _keys: dict[str, list[int]] = field(default_factory=dict)
    _refs: dict[int, int] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)  # linkedid → calls waiting to be written
    _given_up: set[str] = field(default_factory=set)

    def add(self, event: AmiEvent, at: float | None = None, live: Collection[str] = ()) -> bool:
        """Keep `event` under each linkedid it names that is `live` (in progress) or held; whether
        it was kept (the caller then also appends it to the journal's tail, at once)."""
        keys = [k for k in linkedids_of(event) if (k in live or k in self._held) and k not in self._given_up]
        if not keys:
            return False
        self._seq += 1
        seq = self._seq
        self._events[seq] = (at, dict(event))
        self._refs[seq] = 0
        for key in keys:
            seqs = self._keys.get(key)
            if seqs is None:
                if len(self._keys) >= self.max_calls:
                    self._give_up(key)
                    continue
                seqs = self._keys[key] = []
            if len(seqs) >= self.max_events_per_call:
                self._give_up(key)
                continue
            seqs.append(seq)
            self._refs[seq] += 1
        kept = bool(self._refs[seq])
        if not kept:
            del self._events[seq], self._refs[seq]
        self.changes += 1
        return kept

    def hold(self, call: Call) -> None:
        """`call` is finished but not written yet: keep its events until `release`."""
        for key in _keys_of(call):
            self._held[key] = self._held.get(key, 0) + 1

    def release(self, call: Call) -> None:
        """`call` is written: forget its events."""
        for key in _keys_of(call):
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
                continue
            self._held.pop(key, None)
            self._forget(key)
        self.changes += 1

    def prune(self, live: Collection[str]) -> None:
        """Forget linkedids that are neither in progress (`live`) nor held."""
        for key in [k for k in self._keys if k not in live and k not in self._held]:
            self._forget(key)
        self._given_up &= set(live)

    def journal(self, live: Collection[str]) -> list[Entry]:
        """The events of `live` and held linkedids, in the order they came (each once)."""
        wanted: set[int] = set()
        for key, seqs in self._keys.items():
            if key in live or key in self._held:
                wanted.update(seqs)
        return [self._events[seq] for seq in sorted(wanted)]

    @property
    def size(self) -> int:
        """How many events are kept."""
        return len(self._events)

    def _forget(self, key: str) -> None:
        for seq in self._keys.pop(key, ()):
            self._refs[seq] -= 1
            if not self._refs[seq]:
                del self._events[seq], self._refs[seq]

    def _give_up(self, key: str) -> None:
        self._forget(key)
        if key not in self._given_up:
            self._given_up.add(key)
            self.overflowed += 1


def _keys_of(call: Call) -> set[str]:
    return {call.id, *call.linkedids}

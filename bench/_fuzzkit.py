"""The fuzzing kit shared by `tests/unit/fuzz` (hypothesis, a few thousand cases) and `bench.fuzz`
(a million events): recorded captures mangled the way a bad network, a half-written event or an
attacker would, sent as AMI bytes in arbitrary chunks through the real protocol reader, and the
messages it emits fed to the real tracker.

Two oracles, neither of which needs the truth of a mangled capture:
- **crash**: an exception escapes the protocol reader or `CallTracker.feed` (the tracker's own
  isolation turns a bad event into `skipped`; anything else is a crash);
- **lost**: a conversation the tracker followed with a phone in it (its `origin`) that never comes
  out as a finished call, even after `close_all`; **duplicated**: one call id emitted twice.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.ami.protocol import AmiProtocol, Message
from connector.calls.capture import AmiEvent, format_ami, read_capture
from connector.calls.core import _worth_a_record as worth_a_record
from connector.calls.model import Call
from connector.calls.rules import TrackerRules, rules_from_numbering
from connector.calls.tracker import CallTracker

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
BAD_TIMES = ("nan", "inf", "-inf", "1e30", "1e11", "-1", "", "abc", "1795330853.5e")
GARBAGE = (b"\x00", b"\xff\xfe", b":", b"\r\n", b"Event", b"\xd0", b"Ping: x\r\n", b": value\r\n")
KINDS = ("drop", "duplicate", "swap", "time", "blank", "delete", "truncate", "rename", "garbage")


@dataclass(frozen=True, slots=True)
class Sample:
    """One recorded capture: its events and the rules its numbering implies."""

    name: str
    events: tuple[AmiEvent, ...]
    rules: TrackerRules


def samples() -> list[Sample]:
    """Every recorded capture in tests/fixtures/ami."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        capture = read_capture(path)
        found.append(Sample(path.stem, tuple(capture.events), rules_from_numbering(capture.numbering)))
    return found


@dataclass(frozen=True, slots=True)
class Mutation:
    """One change to a capture: `kind` at event `at` (wrapped), with `pick` choosing the detail."""

    kind: str
    at: int
    pick: int = 0


def mutate(events: Sequence[AmiEvent], mutations: Iterable[Mutation]) -> list[AmiEvent]:
    """`events` with each mutation applied in turn."""
    out = [dict(e) for e in events]
    for m in mutations:
        if not out:
            break
        i = m.at % len(out)
        _apply(out, i, m)
    return out


def _apply(out: list[AmiEvent], i: int, m: Mutation) -> None:
    event = out[i]
    keys = sorted(event)
    key = keys[m.pick % len(keys)] if keys else "Event"
    if m.kind == "drop":
        del out[i]
    elif m.kind == "duplicate":
        out.insert(i, dict(event))
    elif m.kind == "swap" and i + 1 < len(out):
        out[i], out[i + 1] = out[i + 1], out[i]
    elif m.kind == "time":
        event["Timestamp"] = BAD_TIMES[m.pick % len(BAD_TIMES)]
    elif m.kind == "blank":
        event[key] = ""
    elif m.kind == "delete":
        event.pop(key, None)
    elif m.kind == "truncate":
        value = event.get(key)
        if isinstance(value, str):
            event[key] = value[: m.pick % (len(value) + 1)]
    elif m.kind == "rename":
        event["Event"] = ("Hangup", "Newchannel", "BridgeEnter", "DialEnd", "Unknown", "")[m.pick % 6]
    elif m.kind == "garbage":
        out.insert(i, {"Event": "Newchannel", "Uniqueid": f"junk.{m.pick}", "Linkedid": f"junk.{m.pick}",
                       "Channel": f"PJSIP/{m.pick % 1000}-0000{m.pick % 97}", "Timestamp": "1"})  # fmt: skip


def to_bytes(events: Iterable[AmiEvent]) -> bytes:
    """The events as the AMI byte stream, after the banner."""
    return BANNER + "".join(format_ami(e) for e in events).encode("utf-8")


def corrupt_bytes(data: bytes, rng: random.Random, count: int) -> bytes:
    """`data` with `count` garbage fragments spliced in at random places."""
    pieces = bytearray(data)
    for _ in range(count):
        at = rng.randrange(len(BANNER), len(pieces) + 1)
        pieces[at:at] = rng.choice(GARBAGE)
    return bytes(pieces)


class _Transport(asyncio.Transport):
    """The least a protocol needs from a transport: nothing is written back."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        return None

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True


def read_messages(data: bytes, cuts: Sequence[int]) -> list[Message]:
    """The messages the real protocol reader emits for `data` delivered in chunks cut at `cuts`."""

    async def run() -> list[Message]:
        messages: list[Message] = []
        protocol = AmiProtocol(messages.append)
        protocol.connection_made(_Transport())
        start = 0
        for cut in sorted({c % (len(data) + 1) for c in cuts} | {len(data)}):
            protocol.data_received(data[start:cut])
            start = cut
        return messages

    return asyncio.run(run())


@dataclass(slots=True)
class Outcome:
    """What one run found."""

    events: int = 0
    calls: int = 0
    crashes: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        """Sum another run into this one."""
        self.events += other.events
        self.calls += other.calls
        self.crashes += other.crashes
        self.duplicated += other.duplicated
        self.lost += other.lost


def _follow(tracker: CallTracker, followed: dict[str, frozenset[str]]) -> None:
    """Note every conversation the tracker itself holds worth a record (a phone, named twice, and a
    dial, a pickup, a queue or an external party: `core._worth_a_record`)."""
    for conv in tracker.conversations:
        if worth_a_record(conv):
            followed[conv.call_id] = frozenset(conv.linkedids)


def track(events: Iterable[Any], rules: TrackerRules, check_every: int = 1) -> Outcome:
    """Feed `events` to a fresh tracker, close what is left, and apply the oracles."""
    tracker = CallTracker(rules)
    outcome = Outcome()
    ids: Counter[str] = Counter()
    covered: set[str] = set()
    followed: dict[str, frozenset[str]] = {}  # a followed conversation's id → its linkedids

    def collect(items: Iterable[object]) -> None:
        for item in items:
            if isinstance(item, Call):
                ids[item.id] += 1
                covered.update((item.id, *item.linkedids))

    for n, event in enumerate(events):
        outcome.events += 1
        try:
            collect(tracker.feed(event))
        except Exception as exc:  # the oracle: nothing may escape the tracker
            outcome.crashes.append(f"{event.get('Event')!s}: {type(exc).__name__}: {exc}")
        if n % check_every == 0:
            _follow(tracker, followed)
    _follow(tracker, followed)
    try:
        collect(tracker.close_all())
    except Exception as exc:
        outcome.crashes.append(f"close_all: {type(exc).__name__}: {exc}")
    outcome.calls = sum(ids.values())
    outcome.duplicated = [call_id for call_id, count in ids.items() if count > 1]
    outcome.lost = [cid for cid, linked in followed.items() if not (linked | {cid}) & covered]
    return outcome

"""Call records made from AMI and from ARI, compared field by field (docs/ari.md).

Every field of `Call` must be equal, except times: ARI stamps an event in milliseconds when
Asterisk makes the Stasis message, AMI in microseconds when its manager thread sends it, which
on a busy machine is later (35 ms seen on the harness), so a time may differ by up to
`TIME_TOLERANCE`; and `rang` is compared as a set: phones a ring group or a ringall queue rings
at one moment have no order, and each source delivers those dial events in its own (seen under
load: AMI 201, 202 and ARI 202, 201 for one ring group).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from connector.ari.translate import Translator
from connector.calls.capture import as_event
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker

TIME_TOLERANCE = timedelta(milliseconds=250)


def calls_of(events: Iterable[Mapping[str, Any]], numbering: Mapping[str, Any]) -> list[Call]:
    """The calls the tracker makes of AMI-shaped events."""
    tracker = CallTracker(rules_from_numbering(dict(numbering)))
    return [c for e in events for c in tracker.feed(dict(e)) if isinstance(c, Call)]


def ami_calls(raw: list[dict[str, Any]], numbering: Mapping[str, Any]) -> list[Call]:
    """The calls of a capture's AMI events."""
    return calls_of((e for e in map(as_event, raw) if e is not None), numbering)


def ari_calls(raw: list[dict[str, Any]], numbering: Mapping[str, Any]) -> list[Call]:
    """The calls of ARI events, through the translator."""
    translate = Translator()
    events = [item for event in raw for item in translate(event)] + translate.flush()
    return calls_of(events, numbering)


def differences(ami: list[Call], ari: list[Call]) -> list[str]:
    """Every field where the two sources' records disagree (beyond the time tolerance)."""
    if len(ami) != len(ari):
        return [f"{len(ami)} calls from AMI, {len(ari)} from ARI"]
    found: list[str] = []
    for index, (a, b) in enumerate(zip(ami, ari, strict=True)):
        left, right = dataclasses.asdict(a), dataclasses.asdict(b)
        found += [
            f"call {index} {key}: AMI {left[key]!r} ARI {right[key]!r}"
            for key in left
            if not _same(*_unordered(key, left[key], right[key]))
        ]
    return found


def _unordered(key: str, a: object, b: object) -> tuple[object, object]:
    """The two values, sorted when the field has no order (`rang`: see the module's docstring)."""
    if key == "rang" and isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(map(str, a)), sorted(map(str, b))
    return a, b


def _same(a: object, b: object) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs(a - b) <= TIME_TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b

"""Checking tracker output against a capture's ground truth (docs/capture-format.md).

`compare(calls, truth)` pairs each expected call with the emitted call that differs least
(order is irrelevant) and lists every difference in words; an empty list means a match. Talk
time is compared with a tolerance (±2 s by default); `rang`, `legs` and `transfers` as ordered
lists (`rang` in any order when the truth has `rang_unordered`); `recording` as "a recording was announced".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.calls.model import Call

TALK_TOLERANCE = 2.0
TRUTH_KEYS = (
    "direction",
    "client",
    "did",
    "rang",
    "answered_by",
    "disposition",
    "legs",
    "transfers",
    "queue",
    "pickup",
    "originated",
    "recording",
)
"""The keys of a truth entry compared as they are (`talk_seconds` comes with a tolerance)."""
OPTIONAL_TRUTH_KEYS = ("reason", "voicemail", "queue_name")
"""Keys compared only when the truth entry has them (captures recorded before issue 24 lack them)."""


def comparable(call: Call | dict[str, Any]) -> dict[str, Any]:
    """A call (a `Call` or its `to_dict()`) in the shape of a truth entry."""
    data = call.to_dict() if isinstance(call, Call) else call
    return {
        "direction": data["direction"],
        "client": data["client"],
        "did": data["did"],
        "rang": list(data["rang"]),
        "answered_by": data["answered_by"],
        "disposition": data["disposition"],
        "legs": [leg["extension"] for leg in data["legs"]],
        "transfers": [{"kind": t["kind"], "from": t["from"], "to": t["to"]} for t in data["transfers"]],
        "queue": data["queue"],
        "queue_name": data.get("queue_name"),
        "pickup": bool(data["pickup"]),
        "originated": bool(data["originated"]),
        "recording": bool(data.get("recording")),
        "talk_seconds": float(data["talk_seconds"]),
        "reason": data.get("reason"),
        "voicemail": data.get("voicemail"),
    }


def differences(got: dict[str, Any], want: dict[str, Any], tolerance: float = TALK_TOLERANCE) -> list[str]:
    """How one emitted call (`comparable` shape) differs from one truth entry."""
    found = [
        f"{key}: got {got.get(key)!r}, want {want[key]!r}"
        for key in (*TRUTH_KEYS, *OPTIONAL_TRUTH_KEYS)
        if key in want and not _same(key, got.get(key), want)
    ]
    if "talk_seconds" in want and abs(got["talk_seconds"] - float(want["talk_seconds"])) > tolerance:
        found.append(
            f"talk_seconds: got {got['talk_seconds']:.1f}, want {want['talk_seconds']} ±{tolerance:g}"
        )
    return found


def _same(key: str, got: Any, want: dict[str, Any]) -> bool:
    """Whether one key matches; `rang` in any order when the truth says the phones rang
    together (`rang_unordered`: a ring group or a ringall queue rings them at one moment)."""
    if key == "rang" and want.get("rang_unordered") and isinstance(got, list):
        return sorted(got) == sorted(want[key])
    return bool(got == want[key])


def compare(
    calls: Sequence[Call | dict[str, Any]], truth: Sequence[dict[str, Any]], tolerance: float = TALK_TOLERANCE
) -> list[str]:
    """Every way the emitted `calls` differ from the `truth` calls (empty: they match)."""
    pending = [comparable(c) for c in calls]
    problems: list[str] = []
    for index, want in enumerate(truth):
        if not pending:
            problems.append(f"truth call #{index} ({want.get('client')}): no call emitted for it")
            continue
        best = min(range(len(pending)), key=lambda i: len(differences(pending[i], want, tolerance)))
        got = pending.pop(best)
        problems.extend(
            f"truth call #{index} ({want.get('client')}): {d}" for d in differences(got, want, tolerance)
        )
    problems.extend(f"unexpected call: {extra}" for extra in pending)
    return problems

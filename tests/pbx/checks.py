"""Cross-checks between a capture's raw events and its ground truth.

Not a call tracker: only the few facts that can be read straight off the events without one
(which phones the PBX dialled, who answered, which transfers, pickups, queues, recordings and
originates occurred). They catch a scenario that did not do what its truth claims.
"""

from __future__ import annotations

import re
from typing import Any

_PHONE = re.compile(r"^PJSIP/(\d{3})-[0-9a-f]+$")


def _value(event: dict[str, Any], name: str) -> str:
    value = event.get(name, "")
    return str(value[0] if isinstance(value, list) else value)


def phone_of(channel: str) -> str | None:
    """The extension of a phone's PBX channel (PJSIP/201-0000000a -> 201), else None."""
    found = _PHONE.match(channel)
    return found.group(1) if found else None


def observed(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Facts read directly off the events of a capture."""
    facts: dict[str, Any] = {
        "dialled": [],
        "answered": [],
        "bridged": set(),
        "blind": [],
        "attended": [],
        "pickups": 0,
        "queues": set(),
        "recordings": 0,
        "originates": 0,
        "cyrillic_names": set(),
    }
    # The daemon's parallel-interception Originates are not click-to-call: their channel is the
    # attempt a CrmInterception marker announced.
    attempts = {
        _value(e, "AttemptUniqueid")
        for e in events
        if _value(e, "Event") == "UserEvent" and _value(e, "UserEvent") == "CrmInterception"
    }
    for event in events:
        kind = _value(event, "Event")
        dest = phone_of(_value(event, "DestChannel"))
        if kind == "DialBegin" and dest and dest not in facts["dialled"]:
            facts["dialled"].append(dest)
        elif kind == "DialEnd" and _value(event, "DialStatus") == "ANSWER" and dest:
            facts["answered"].append(dest)
        elif kind == "BlindTransfer" and _value(event, "Result") == "Success":
            facts["blind"].append(event)
        elif kind == "AttendedTransfer" and _value(event, "Result") == "Success":
            facts["attended"].append(event)
        elif kind == "Pickup":
            facts["pickups"] += 1
        elif kind == "QueueCallerJoin":
            facts["queues"].add(_queue_number(event))
        elif kind == "OriginateResponse" and _value(event, "Uniqueid") not in attempts:
            facts["originates"] += 1
        else:
            _talk_facts(facts, kind, event)
        name = _value(event, "CallerIDName")
        if re.search("[\u0400-\u04ff]", name):
            facts["cyrillic_names"].add(name)
    return facts


def _queue_number(event: dict[str, Any]) -> str:
    """A queue by its number: MikoPBX's app_queue names are ids, the caller ran Queue() at the
    queue's number (the event's Exten)."""
    queue, exten = _value(event, "Queue"), _value(event, "Exten")
    return queue if queue.isdigit() or not exten.isdigit() else exten


def _talk_facts(facts: dict[str, Any], kind: str, event: dict[str, Any]) -> None:
    """Phones in a bridge, forwarding (MikoPBX's internal-fw names the extension whose
    forwarding number the call goes on to) and announced recordings."""
    variable = _value(event, "Variable") if kind == "VarSet" else ""
    if kind == "BridgeEnter" and phone_of(_value(event, "Channel")):
        facts["bridged"].add(phone_of(_value(event, "Channel")))
    elif variable == "__FW_SOURCE_PEER":
        facts["answered"].append(_value(event, "Value"))
    elif variable == "MIXMONITOR_FILENAME":
        facts["recordings"] += 1


def problems(capture: dict[str, Any]) -> list[str]:
    """Where the events contradict the truth's basic facts (empty when consistent)."""
    calls = capture["truth"]["calls"]
    facts = observed(capture["events"])
    found: list[str] = []

    def expect(condition: bool, message: str) -> None:
        if not condition:
            found.append(message)

    rang = {ext for c in calls for ext in c["rang"]}
    # An internal caller's or outbound caller's own phone is never dialled by the PBX.
    expect(
        set(facts["dialled"]) == rang, f"phones dialled {facts['dialled']} but truth says rang {sorted(rang)}"
    )
    for c in calls:
        if c.get("rang_unordered"):
            continue
        expect(
            c["rang"] == [e for e in facts["dialled"] if e in c["rang"]],
            f"ring order {c['rang']} differs from dial order {facts['dialled']}",
        )
    answered_phones = {
        c["answered_by"]
        for c in calls
        if c["answered_by"] and c["direction"] != "outbound" and not c["pickup"]
    }
    expect(
        answered_phones <= set(facts["answered"]) | facts["bridged"],
        f"truth answered_by {sorted(answered_phones)}, DialEnd ANSWER to {facts['answered']}",
    )
    blind = [t for c in calls for t in c["transfers"] if t["kind"] == "blind"]
    attended = [t for c in calls for t in c["transfers"] if t["kind"] == "attended"]
    expect(
        len(blind) == len(facts["blind"]),
        f"{len(blind)} blind transfers in truth, {len(facts['blind'])} BlindTransfer events",
    )
    expect(
        len(attended) == len(facts["attended"]),
        f"{len(attended)} attended transfers in truth, "
        f"{len(facts['attended'])} successful AttendedTransfer events",
    )
    expect(
        sum(c["pickup"] for c in calls) == facts["pickups"],
        f"pickups in truth differ from {facts['pickups']} Pickup events",
    )
    expect(
        {c["queue"] for c in calls if c["queue"]} == facts["queues"],
        f"queues in truth differ from QueueCallerJoin {sorted(facts['queues'])}",
    )
    expect(
        any(c["recording"] for c in calls) == (facts["recordings"] > 0),
        f"recording in truth, but {facts['recordings']} MIXMONITOR_FILENAME announced",
    )
    expect(
        any(c["originated"] for c in calls) == (facts["originates"] > 0),
        f"originated in truth, but {facts['originates']} OriginateResponse events",
    )
    return found

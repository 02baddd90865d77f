"""Pickups however Asterisk announces them (issue 15 defect 2): the Pickup event, a dial answered
by a phone it never rang, a channel that goes Up without a dial and is bridged into the ringing
call, a ringing channel renamed to the picker's (BLF pickup by INVITE with Replaces)."""

from __future__ import annotations

import pytest

from connector.calls.capture import AmiEvent
from connector.calls.truth import compare

from .captures import load, replay
from .synthetic import Story, run

PICKUPS = ("pickup_group", "pickup_directed")


def _without(events: list[AmiEvent], names: set[str]) -> list[AmiEvent]:
    return [e for e in events if e["Event"] not in names]


@pytest.mark.parametrize("name", PICKUPS)
def test_pickup_without_the_pickup_event_is_still_a_pickup(name: str) -> None:
    capture = load(name)
    assert compare(replay(capture, _without(capture.events, {"Pickup"})), capture.truth or []) == []


@pytest.mark.parametrize("name", PICKUPS)
def test_pickup_seen_only_in_the_dial_answer_names_the_picker(name: str) -> None:
    capture = load(name)
    events = _without(capture.events, {"Pickup", "BridgeEnter", "BridgeLeave", "BridgeDestroy"})
    want = (capture.truth or [])[0]
    assert [(c.pickup, c.answered_by, c.rang) for c in replay(capture, events)] == [
        (True, want["answered_by"], tuple(want["rang"]))
    ]


def _blf_pickup(rename: bool) -> list[AmiEvent]:
    """Client rings 201; 202's phone takes the call over by INVITE with Replaces: Asterisk moves the
    picker's new channel into the ringing one (a masquerade: Rename, the zombie hangs up)."""
    s = Story()
    trunk = s.chan("SIP/trunk-00000001", number="79161234567", exten="74951110001")
    s.new(trunk, "0")
    ringing = s.chan("SIP/201-00000002", linkedid=trunk.uniqueid, number="201")
    s.new(ringing, "0")
    s.dial(trunk, ringing, "SIP/201")
    s.state(ringing, "5")
    picker = s.chan("SIP/202-00000003", number="202", exten="s")
    s.new(picker, "4")
    if rename:
        s.add("Rename", ("", picker), Newname="SIP/202-00000003<ZOMBIE>")
        s.add("Rename", ("", ringing), Newname="SIP/202-00000003")
        ringing.name = "SIP/202-00000003"
        picker.name = "SIP/202-00000003<ZOMBIE>"
        s.hangup(picker)
        answered = ringing
    else:
        s.hangup(ringing)
        picker.linkedid = trunk.linkedid  # the linkedid rewrite: the picker joins the call
        answered = picker
    s.state(answered, "6")
    s.dial_end(trunk, answered, "ANSWER")
    s.bridge("b-1", trunk, answered)
    s.leave("b-1", trunk, answered)
    s.hangup(answered, wait=15)
    s.hangup(trunk)
    return s.events


@pytest.mark.parametrize("rename", [True, False], ids=["ringing-channel-renamed", "picker-channel-survives"])
def test_blf_pickup_by_replaces_is_a_pickup_by_the_picker(rename: bool) -> None:
    calls = run(_blf_pickup(rename))
    assert [
        (c.direction.value, c.pickup, c.answered_by, c.rang, [g.extension for g in c.legs]) for c in calls
    ] == [("inbound", True, "202", ("201",), ["202"])]


@pytest.mark.parametrize(
    "name", ["inbound_direct_answered", "attended_transfer_feature_code", "click_to_call_answered"]
)
def test_an_ordinary_answer_is_not_a_pickup(name: str) -> None:
    assert [c.pickup for c in replay(load(name))] == [False]

"""Attended transfers whatever Asterisk's AttendedTransfer event names, and who hung up first.

`attended_transfer_ami_completed_race` is the real capture of the race in bridge_basic.c: the
transferer hangs up to complete the transfer, and Asterisk looks for the transfer target while
the transferer's channel is being pulled out of the consultation bridge, so its AttendedTransfer
has no TransferTarget* headers (about one run in three on the harness). By then its BridgeMerge
has moved the target's Local channel out of the consultation bridge, in every run.
"""

from __future__ import annotations

from connector.calls.capture import AmiEvent as RawEvent
from connector.calls.capture import Capture
from connector.calls.core import AmiEvent
from connector.calls.model import Call
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker

from .captures import load, replay


def _transfers(calls: list[Call]) -> list[tuple[str, str, str]]:
    return [(t.kind.value, t.from_ext, t.to_ext) for c in calls for t in c.transfers]


def _edited(capture: Capture, edit: dict[str, str], drop: tuple[str, ...] = ()) -> list[RawEvent]:
    """The capture's events with every header value in `edit` replaced, and the AttendedTransfer
    without the headers in `drop`."""
    events: list[RawEvent] = []
    for event in capture.events:
        changed = {k: (edit.get(v, v) if isinstance(v, str) else v) for k, v in event.items()}
        if event.get("Event") == "AttendedTransfer":
            changed = {k: v for k, v in changed.items() if not k.startswith(drop) or not drop}
        events.append(changed)
    return events


def test_transfer_is_recorded_when_asterisk_does_not_name_the_target() -> None:
    capture = load("attended_transfer_ami_completed_race")
    transfer = next(e for e in capture.events if e.get("Event") == "AttendedTransfer")
    calls = replay(capture)
    assert (
        "TransferTargetChannel" in transfer,
        transfer.get("SecondBridgeNumChannels"),
        _transfers(calls),
        [tuple(g.extension for g in c.legs) for c in calls],
    ) == (False, "0", [("attended", "201", "203")], [("201", "203")])


def test_both_orders_of_the_race_give_the_same_call() -> None:
    won, lost = (
        replay(load("attended_transfer_ami_completed")),
        replay(load("attended_transfer_ami_completed_race")),
    )
    assert [(c.transfers[0].to_ext, c.legs[-1].extension, c.answered_by) for c in (*won, *lost)] == [
        ("203", "203", "201"),
        ("203", "203", "201"),
    ]


def test_without_the_consultation_bridge_the_target_is_whom_the_client_now_talks_to() -> None:
    capture = load("attended_transfer_ami_completed_race")
    events = _edited(capture, {}, drop=("SecondBridge",))
    assert _transfers(replay(capture, events)) == [("attended", "201", "203")]


def test_target_behind_a_local_channel_is_not_the_transferee_in_an_internal_call() -> None:
    # The same transfer with an employee (202) as the transferee: after the merge the target's
    # Local half shares a bridge with 202, which must not be mistaken for the target.
    capture = load("attended_transfer_ami_completed")
    trunk = next(str(e["Channel"]) for e in capture.events if e.get("Event") == "Newchannel")
    events = _edited(capture, {trunk: "PJSIP/202-00000036", "+79161110011": "202"})
    assert _transfers(replay(capture, events)) == [("attended", "201", "203")]


# ---------------------------------------------------------------------- who hung up first
# Shortened from real AMI Hangup actions on the harness (a client on line 1 talking to 201): no
# HangupRequest is sent for the channel hung up; it leaves the bridge first, then both hang up.
CLIENT, PHONE = (
    ("PJSIP/SIP-1611151795-00000000", "mikopbx-1795333011.0"),
    ("PJSIP/201-00000001", "mikopbx-1795333011.1"),
)


def _ami_hangup(first: tuple[str, str], second: tuple[str, str]) -> list[AmiEvent]:
    at = iter(range(1795333011_000, 1795333012_000, 10))

    def event(name: str, party: tuple[str, str], **headers: str) -> AmiEvent:
        channel, uid = party
        return {
            "Event": name,
            "Timestamp": f"{next(at) / 1000:.3f}",
            "Channel": channel,
            "Uniqueid": uid,
            "Linkedid": CLIENT[1],
            "CallerIDNum": "+79161110200" if party == CLIENT else "201",
            "Exten": "74951110001" if party == CLIENT else "s",
            "ChannelStateDesc": "Up",
            **headers,
        }

    dest = {
        f"Dest{k}": str(v) for k, v in event("Newchannel", PHONE).items() if k not in ("Event", "Timestamp")
    }
    return [
        event("Newchannel", CLIENT, ChannelStateDesc="Ring"),
        event("Newchannel", PHONE, ChannelStateDesc="Down"),
        event("DialBegin", CLIENT, **dest),
        event("DialEnd", CLIENT, DialStatus="ANSWER", **dest),
        event("BridgeEnter", PHONE, BridgeUniqueid="b1", BridgeType="basic"),
        event("BridgeEnter", CLIENT, BridgeUniqueid="b1", BridgeType="basic"),
        event("BridgeLeave", first, BridgeUniqueid="b1", BridgeType="basic"),
        event("BridgeLeave", second, BridgeUniqueid="b1", BridgeType="basic"),
        event("SoftHangupRequest", CLIENT, Cause="16"),
        event("Hangup", first, Cause="16"),
        event("Hangup", second, Cause="16"),
    ]


def _sides(events: list[AmiEvent]) -> list[str | None]:
    tracker = CallTracker(TrackerRules())
    return [item.hangup_side for e in events for item in tracker.feed(e) if isinstance(item, Call)]


def test_ami_hangup_of_the_employee_is_the_employees_side() -> None:
    assert _sides(_ami_hangup(PHONE, CLIENT)) == ["employee"]


def test_ami_hangup_of_the_client_is_the_clients_side() -> None:
    assert _sides(_ami_hangup(CLIENT, PHONE)) == ["client"]

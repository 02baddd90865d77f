"""ARI → AMI translation: recorded scenarios (both sources, tests/fixtures/ari, recorded by
tests/pbx/test_ari.py with ARI_RECORD=1) give the same call records, field by field; the
derived linkedids follow Asterisk's rules; nothing damaged stops the translator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.ari import translate
from connector.ari.translate import Translator, timestamp

from .agreement import ami_calls, ari_calls, differences

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ari"
RECORDED = sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def test_every_family_is_recorded() -> None:
    assert len(RECORDED) >= 16


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_scenario_gives_the_same_record_from_both_sources(name: str) -> None:
    capture = load(name)
    from_ami = ami_calls(capture["ami"], capture["numbering"])
    assert from_ami
    assert differences(from_ami, ari_calls(capture["ari"], capture["numbering"])) == []


def test_without_the_held_creations_linkedids_would_disagree() -> None:
    """The hold is what makes the records agree: translating each event at once (a channel
    learns its linkedid only after its Newchannel) lists extra linkedids."""
    capture = load("inbound_ringgroup_answered")
    translator = Translator()
    eager = [item for event in capture["ari"] for item in translator._translate(event)]
    from connector.calls.capture import as_event

    from .agreement import calls_of

    ami = calls_of((e for e in map(as_event, capture["ami"]) if e), capture["numbering"])
    assert any("linkedids" in d for d in differences(ami, calls_of(eager, capture["numbering"])))


def channel(uid: str, name: str, state: str = "Down") -> dict[str, Any]:
    return {"id": uid, "name": name, "state": state, "caller": {"number": "201", "name": "A"}, "dialplan": {}}


def event(kind: str, stamp: str = "2026-12-05T09:02:09.873+0000", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": stamp, **fields}


def test_a_dialled_channel_takes_its_callers_linkedid_at_birth() -> None:
    t = Translator()
    out = t(event("ChannelCreated", channel=channel("p.1", "PJSIP/trunk-1", "Ring")))
    out += t(event("ChannelDialplan", channel=channel("p.1", "PJSIP/trunk-1"), dialplan_app="NoOp"))
    out += t(event("ChannelCreated", channel=channel("p.2", "PJSIP/201-2")))
    out += t(event("ChannelVarset", channel=channel("p.2", "PJSIP/201-2"), variable="X", value="1"))
    assert [e["Event"] for e in out] == ["Newchannel", "Newexten"]  # p.2 is held
    out = t(
        event(
            "Dial", caller=channel("p.1", "PJSIP/trunk-1"), peer=channel("p.2", "PJSIP/201-2"), dialstatus=""
        )
    )
    assert [(e["Event"], e.get("Linkedid"), e.get("DestLinkedid")) for e in out] == [
        ("Newchannel", "p.1", None),
        ("VarSet", "p.1", None),
        ("DialBegin", "p.1", "p.1"),
    ]


def test_local_halves_share_a_linkedid_and_bridges_take_the_oldest() -> None:
    t = Translator()
    t(event("ChannelCreated", channel=channel("x-10.5", "Local/201@a-0001;1")))
    t(event("ChannelCreated", channel=channel("x-10.6", "Local/201@a-0001;2")))
    out = t.flush()
    assert [e["Linkedid"] for e in out] == ["x-10.5", "x-10.5"]
    t(event("ChannelCreated", channel=channel("x-9.1", "PJSIP/trunk-1")))
    t.flush()
    bridge = {"id": "b1", "bridge_class": "basic", "channels": ["x-9.1", "x-10.5"]}
    t(event("ChannelEnteredBridge", channel=channel("x-10.5", "Local/201@a-0001;1"), bridge=bridge))
    assert (t.linkedid("x-10.5"), t.linkedid("x-10.6")) == ("x-9.1", "x-9.1")


@pytest.mark.parametrize(
    ("status", "name"),
    [
        ("", "DialBegin"),
        ("RINGING", "DialState"),
        ("ANSWER", "DialEnd"),
        ("BUSY", "DialEnd"),
        ("CANCEL", "DialEnd"),
    ],
)
def test_one_dial_event_becomes_the_three_of_ami(status: str, name: str) -> None:
    t = Translator()
    out = t(event("Dial", peer=channel("a.2", "PJSIP/201-1"), dialstatus=status)) + t.flush()
    assert [(e["Event"], e.get("DialStatus", "")) for e in out] == [
        (name, status if name != "DialBegin" else "")
    ]


def test_queue_join_is_derived_from_the_dialplan_entering_queue() -> None:
    t = Translator()
    chan = channel("q.1", "PJSIP/trunk-1", "Ring") | {"dialplan": {"exten": "2200102"}}
    out = t(
        event("ChannelDialplan", channel=chan, dialplan_app="Queue", dialplan_app_data="2200102,tT,,,300")
    )
    assert [(e["Event"], e.get("Queue")) for e in out] == [("Newexten", None), ("QueueCallerJoin", "2200102")]


def test_holding_is_bounded() -> None:
    t = Translator()
    t(event("ChannelCreated", channel=channel("h.1", "PJSIP/201-1")))
    released = [t(event("DeviceStateChanged")) for _ in range(translate.MAX_HELD)]
    assert sum(len(r) for r in released) == 1 and not t._held  # only Newchannel is translated


@pytest.mark.parametrize(
    "damaged",
    [
        {},
        {"type": 5},
        {"type": "Dial"},
        {"type": "ChannelVarset", "channel": "x"},
        {"type": "Nope", "channel": {}},
    ],
)
def test_damaged_events_translate_to_nothing(damaged: dict[str, Any]) -> None:
    t = Translator()
    assert t(damaged) + t.flush() == []


def test_times_become_epoch_seconds() -> None:
    assert timestamp("2026-12-05T09:02:09.873+0000") == "1796461329.873000"
    assert timestamp("yesterday") == timestamp(None) == ""


def _consultation_dialled_first(ari: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The refused transfer's events with the consultation's Local ;2 dialling 203 before the
    transferer's move into the consultation bridge arrives (two Asterisk threads: seen live)."""

    def at(kind: str, uid: str, key: str = "channel") -> int:
        return next(i for i, e in enumerate(ari) if e["type"] == kind and e[key]["id"].endswith(uid))

    moved, created = at("ChannelLeftBridge", ".27"), at("ChannelCreated", ".30")
    dialled = at("Dial", ".30", "peer")
    assert moved < created < dialled
    return ari[:moved] + ari[created : dialled + 1] + ari[moved:created] + ari[dialled + 1 :]


@pytest.mark.parametrize("order", ["as recorded", "consultation dialled first"])
def test_a_refused_consultation_stays_out_of_the_call_in_either_event_order(order: str) -> None:
    """The consultation's Local channel had the client's linkedid from birth; ARI tells it only
    when the transferer joins it, so what that channel dials must not copy its unknown value."""
    capture = load("attended_transfer_ami_refused")
    ari = capture["ari"] if order == "as recorded" else _consultation_dialled_first(capture["ari"])
    from_ami = ami_calls(capture["ami"], capture["numbering"])
    from_ari = ari_calls(ari, capture["numbering"])
    assert [c.linkedids for c in from_ari] == [c.linkedids for c in from_ami] == [("mikopbx-1796461958.26",)]
    assert differences(from_ami, from_ari) == []


NUMBERING = {"country": "7", "internal_pattern": "^[0-9]{2,5}$", "dids": ["74951110001"]}


def _at(second: int) -> str:
    return f"2026-12-05T09:02:{second:02d}.000+0000"


def test_a_channel_born_ringing_keeps_its_own_linkedid_until_bridged() -> None:
    """A phone's own call (a picker dialling *8) has no requestor: nothing is held for it, and it
    takes the older linkedid only when bridged, as AMI shows (tests/fixtures/ari/pickup_group)."""
    t = Translator()
    out = t(event("ChannelCreated", channel=channel("x-9.1", "PJSIP/trunk-1", "Ring")))
    out += t(event("ChannelCreated", channel=channel("x-9.3", "PJSIP/202-3", "Ring")))
    out += t(event("ChannelDialplan", channel=channel("x-9.3", "PJSIP/202-3", "Up"), dialplan_app="AppDial"))
    bridge = {"id": "b1", "bridge_class": "basic", "channels": ["x-9.3", "x-9.1"]}
    out += t(event("ChannelEnteredBridge", channel=channel("x-9.1", "PJSIP/trunk-1", "Up"), bridge=bridge))
    out += t(event("ChannelDestroyed", channel=channel("x-9.3", "PJSIP/202-3", "Up")))
    assert [(e["Event"], e["Linkedid"]) for e in out if e.get("Uniqueid") == "x-9.3"] == [
        ("Newchannel", "x-9.3"),
        ("Newexten", "x-9.3"),
        ("Hangup", "x-9.1"),
    ]


def _blf_pickup() -> list[dict[str, Any]]:
    """Client rings 201; 202's phone takes the call over by INVITE with Replaces: Asterisk moves
    the picker into the ringing channel, whose snapshots name 202's phone from then on."""
    trunk = channel("m-1796000000.1", "PJSIP/trunk-00000001", "Ring") | {
        "caller": {"number": "+79161234567", "name": ""},
        "dialplan": {"context": "from-trunk", "exten": "74951110001", "priority": 1},
    }
    ringing = channel("m-1796000000.2", "PJSIP/201-00000002")
    picker = channel("m-1796000000.3", "PJSIP/202-00000003", "Ring")
    up = {"state": "Up"}
    dial = {"caller": trunk | up, "dialstring": "201"}
    bridge = {"id": "b-1", "bridge_class": "basic", "channels": [ringing["id"], trunk["id"]]}
    picked = ringing | up | {"name": "PJSIP/202-00000003"}
    return [
        event("ChannelCreated", _at(0), channel=trunk),
        event("ChannelDialplan", _at(0), channel=trunk, dialplan_app="Dial", dialplan_app_data="PJSIP/201"),
        event("ChannelCreated", _at(0), channel=ringing),
        event("ChannelDialplan", _at(0), channel=ringing, dialplan_app="AppDial"),
        event("Dial", _at(0), peer=ringing, dialstatus="", **dial),
        event("ChannelStateChange", _at(0), channel=ringing | {"state": "Ringing"}),
        event("Dial", _at(1), peer=ringing | {"state": "Ringing"}, dialstatus="RINGING", **dial),
        event("ChannelCreated", _at(2), channel=picker),
        event("ChannelStateChange", _at(2), channel=picked),
        event("ChannelDestroyed", _at(2), channel=picker | {"name": "PJSIP/202-00000003<ZOMBIE>"}),
        event("Dial", _at(2), peer=picked, dialstatus="ANSWER", **dial),
        event("ChannelEnteredBridge", _at(2), channel=picked, bridge=bridge),
        event("ChannelEnteredBridge", _at(2), channel=trunk | up, bridge=bridge),
        event("ChannelLeftBridge", _at(9), channel=picked, bridge=bridge),
        event("ChannelDestroyed", _at(9), channel=picked, cause=16),
        event("ChannelDestroyed", _at(9), channel=trunk | up, cause=16),
    ]


def test_a_channel_renamed_in_its_snapshots_is_amis_rename() -> None:
    t = Translator()
    out = [item for e in _blf_pickup() for item in t(e)] + t.flush()
    renames = [(e["Channel"], e["Newname"], e["Uniqueid"]) for e in out if e["Event"] == "Rename"]
    assert renames == [
        ("PJSIP/201-00000002", "PJSIP/202-00000003", "m-1796000000.2"),
        ("PJSIP/202-00000003", "PJSIP/202-00000003<ZOMBIE>", "m-1796000000.3"),
    ]


def test_blf_pickup_seen_through_ari_is_a_pickup_by_the_picker() -> None:
    calls = ari_calls(_blf_pickup(), NUMBERING)
    assert [
        (c.direction.value, c.pickup, c.answered_by, c.rang, [g.extension for g in c.legs]) for c in calls
    ] == [("inbound", True, "202", ("201",), ["202"])]

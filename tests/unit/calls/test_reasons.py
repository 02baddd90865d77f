"""Every conversation with a person gets one record that says why it ended unanswered (issue 24):
reasons from generic dialplan evidence (and MikoPBX's CdrConnector events when present), and a
record for a call the dialplan refused before any dial."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector import config
from connector.calls.capture import AmiEvent, read_capture
from connector.calls.model import Call, call_from_dict
from connector.calls.rules import TrackerRules, rules_from_settings
from connector.calls.truth import compare

from .captures import FIXTURES, replay
from .synthetic import T0, Chan, Story, run

# The reason of every unanswered call in the committed captures (answered calls carry none).
CAPTURE_REASONS = {
    "click_to_call_client_busy": "busy_on_call",
    "inbound_caller_hangs_up_ringing": "caller_gave_up",
    "inbound_direct_missed": "no_answer",
    "inbound_queue_abandoned": "caller_gave_up",
    "inbound_ringgroup_missed": "no_answer",
    "internal_busy": "busy_on_call",
    "internal_cancelled": "caller_gave_up",
    "internal_no_answer": "no_answer",
    "outbound_busy": "busy_on_call",
    "outbound_cancelled": "caller_gave_up",
    "outbound_no_answer": "no_answer",
    "closed_hours": "closed_hours",
    "ivr_abandon": "ivr_abandon",
    "voicemail_direct_message": "voicemail",
    "announcement_hangup": "announcement",
    "busy_on_call": "busy_on_call",
}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_calls_carry_their_reason(path: Path) -> None:
    calls = replay(read_capture(path))
    want = CAPTURE_REASONS.get(path.stem)
    assert [c.reason.value if c.reason else None for c in calls if c.disposition.value != "answered"] == (
        [want] if want else []
    )
    assert all(c.reason is None for c in calls if c.disposition.value == "answered")


def _trunk_call(s: Story) -> Chan:
    trunk = s.chan(
        "PJSIP/trunk-00000001", number="79161234567", exten="74951110001", context="trunk-incoming"
    )
    s.new(trunk, "4")
    s.app(trunk, "NoOp", "incoming")
    return trunk


def _one(s: Story) -> Call:
    calls = run(s.events)
    assert len(calls) == 1, calls
    return calls[0]


def test_mikopbx_out_of_work_time_branch_is_closed_hours() -> None:
    s = Story()
    trunk = _trunk_call(s)
    s.app(trunk, "Set", "currentYear=2026", context="check-out-work-time")
    s.app(
        trunk,
        "GotoIfTime",
        "18:00-23:59,mon-fri,*,*?work-time-set-var-1,${EXTEN},1",
        context="check-out-work-time-1",
    )
    s.app(
        trunk, "Set", "filename=/offload/asterisk/sounds/other/out_work_times", context="work-time-set-var-1"
    )
    s.app(trunk, "Gosub", "dial_outworktimes,${EXTEN},1", context="playback-exit")
    s.app(trunk, "Playback", "/offload/asterisk/sounds/other/out_work_times", context="playback-exit")
    s.hangup(trunk)
    call = _one(s)
    assert (call.direction.value, call.disposition.value, call.reason, call.rang) == (
        "inbound",
        "missed",
        "closed_hours",
        (),
    )


def test_passing_the_out_of_work_time_check_is_not_closed_hours() -> None:
    s = Story()
    trunk = _trunk_call(s)
    s.app(trunk, "Set", "currentYear=2026", context="check-out-work-time")
    s.app(
        trunk,
        "GotoIfTime",
        "18:00-23:59,mon-fri,*,*?work-time-set-var-1,${EXTEN},1",
        context="check-out-work-time-1",
    )
    s.app(trunk, "Dial", "PJSIP/201,30", context="trunk-incoming")
    phone = s.chan("PJSIP/201-00000002", linkedid=trunk.uniqueid, number="201", context="internal")
    s.new(phone)
    s.dial(trunk, phone, "PJSIP/201")
    s.dial_end(trunk, phone, "NOANSWER")
    s.hangup(phone, wait=30)
    s.hangup(trunk)
    call = _one(s)
    assert (call.disposition.value, call.reason, call.rang) == ("missed", "no_answer", ("201",))


def test_cdr_connector_event_is_evidence_when_present() -> None:
    s = Story()
    trunk = _trunk_call(s)
    data = base64.b64encode(
        json.dumps({"action": "dial_outworktimes", "linkedid": trunk.linkedid}).encode()
    ).decode()
    s.add("UserEvent", ("", trunk), UserEvent="CdrConnector", AgiData=data)
    s.app(trunk, "Playback", "goodbye")
    s.hangup(trunk)
    assert _one(s).reason == "closed_hours"


def test_caller_leaving_the_voice_menu_is_ivr_abandon() -> None:
    s = Story()
    trunk = _trunk_call(s)
    s.app(trunk, "Answer", context="ivr-1")
    s.app(trunk, "Background", "ivr-welcome")
    s.app(trunk, "WaitExten", "5")
    s.request(trunk)
    s.hangup(trunk)
    call = _one(s)
    assert (call.disposition.value, call.reason) == ("missed", "ivr_abandon")


@pytest.mark.parametrize("left", [True, False])
def test_voicemail_after_no_answer_names_the_mailbox_and_the_message(left: bool) -> None:
    s = Story()
    trunk = _trunk_call(s)
    phone = s.chan("PJSIP/201-00000002", linkedid=trunk.uniqueid, number="201", context="internal")
    s.new(phone)
    s.dial(trunk, phone, "PJSIP/201")
    s.dial_end(trunk, phone, "NOANSWER")
    s.hangup(phone, wait=20)
    s.app(trunk, "VoiceMail", "201@default,u", context="voicemail")
    if left:
        s.var(trunk, "VM_MESSAGEFILE", "/var/spool/asterisk/voicemail/default/201/INBOX/msg0000")
    s.hangup(trunk, wait=10)
    call = _one(s)
    assert (call.disposition.value, call.reason, call.voicemail) == (
        "missed",
        "voicemail",
        {"mailbox": "201@default", "message_left": left},
    )
    assert call_from_dict(call.to_dict()) == call


def test_announcement_then_hangup_is_announcement() -> None:
    s = Story()
    trunk = _trunk_call(s)
    s.app(trunk, "Answer")
    s.app(trunk, "Playback", "we-have-moved")
    s.app(trunk, "Hangup")
    s.hangup(trunk)
    assert _one(s).reason == "announcement"


def _refused(exten: str, application: str) -> list[Call]:
    s = Story()
    phone = s.chan("PJSIP/201-00000001", number="201", exten=exten, context="all_peers")
    s.new(phone, "4")
    s.app(phone, "Set", "DEVSTATE=INUSE", context="internal")
    s.app(phone, application, "")
    s.hangup(phone, cause="17" if application == "Busy" else "34")
    return run(s.events)


def test_internal_call_refused_by_busy_before_any_dial_is_a_busy_record() -> None:
    calls = _refused("202", "Busy")
    assert [(c.direction.value, c.client, c.disposition.value, c.reason, c.rang) for c in calls] == [
        ("internal", "201", "busy", "busy_on_call", ())
    ]


def test_outbound_call_refused_before_any_dial_is_a_failed_record() -> None:
    calls = _refused("89161234567", "Congestion")
    assert [(c.direction.value, c.client, c.disposition.value, c.reason) for c in calls] == [
        ("outbound", "+79161234567", "failed", "no_route")
    ]


def test_inbound_call_refused_by_busy_is_missed_busy_on_call() -> None:
    s = Story()
    trunk = _trunk_call(s)
    s.app(trunk, "Busy", "2")
    s.hangup(trunk, cause="17")
    call = _one(s)
    assert (call.direction.value, call.disposition.value, call.reason) == (
        "inbound",
        "missed",
        "busy_on_call",
    )


def test_technical_channels_make_no_record() -> None:
    s = Story()
    one = s.chan("Local/100@probe-00000001;1", exten="100")
    two = s.chan("Local/100@probe-00000001;2", linkedid=one.uniqueid, exten="100")
    s.new(one)
    s.new(two)
    s.app(two, "Busy", "")
    s.hangup(two)
    s.hangup(one)
    phone = s.chan("PJSIP/201-00000003", number="201", exten="s", context="all_peers")
    s.new(phone, "4")
    s.app(phone, "Congestion", "")
    s.hangup(phone)
    assert run(s.events) == []


def test_truth_compares_the_reason_when_given() -> None:
    call = _refused("202", "Busy")[0]
    want = {"direction": "internal", "client": "201", "reason": "no_answer"}
    assert compare([call], [want]) == ["truth call #0 (201): reason: got 'busy_on_call', want 'no_answer'"]


def _announcement_only(at: float = T0) -> list[AmiEvent]:
    s = Story(at=at)
    trunk = _trunk_call(s)
    s.app(trunk, "Playback", "we-are-closed")
    s.hangup(trunk)
    return s.events


@pytest.mark.parametrize(("working", "want"), [(False, "closed_hours"), (True, "announcement")])
def test_the_working_hours_schedule_is_evidence_for_a_call_no_phone_rang(working: bool, want: str) -> None:
    rules = TrackerRules(dids=("74951110001",), working_hours=lambda moment: working)
    assert [c.reason for c in run(_announcement_only(), rules)] == [want]


def test_the_schedule_comes_from_the_interception_hours() -> None:
    text = """
ami: {username: u, secret: s}
interception: {timezone: Europe/Moscow, working_hours: ["mon-fri 09:00-18:00"]}
"""
    working = rules_from_settings(config.loads(text)).working_hours
    assert working is not None
    # T0 of the synthetic stories is Wednesday 2026-11-18 11:06 UTC, 14:06 in Moscow: open; six
    # hours later it is 20:06 there: closed.
    evening = T0 + 6 * 3600
    assert [working(datetime.fromtimestamp(t, UTC)) for t in (T0, evening)] == [True, False]
    rules = rules_from_settings(config.loads(text))
    assert [c.reason for c in run(_announcement_only(evening), rules) + run(_announcement_only(), rules)] == [
        "closed_hours",
        "announcement",
    ]


def test_mikopbx_voicemail_capture_names_the_mailbox_and_the_message() -> None:
    """Recorded on the harness's MikoPBX profile: the client leaves a 3 s message after no answer."""
    path = FIXTURES / "mikopbx" / "voicemail_after_no_answer.json"
    calls = replay(read_capture(path))
    assert [(c.disposition.value, c.reason, c.voicemail) for c in calls] == [
        ("missed", "voicemail", {"mailbox": "admin@voicemailcontext", "message_left": True})
    ]

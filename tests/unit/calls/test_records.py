"""Details of the finished call records beyond the ground truth's keys."""

from __future__ import annotations

from .captures import load, replay


def test_client_hanging_up_first_is_the_client_side() -> None:
    assert [c.hangup_side for c in replay(load("outbound_answered"))] == ["client"]


def test_employee_hanging_up_first_is_the_employee_side() -> None:
    assert [c.hangup_side for c in replay(load("outbound_plus_format_answered"))] == ["employee"]


def test_pickup_joins_the_pickers_linkedid_into_the_call() -> None:
    call = replay(load("pickup_group"))[0]
    assert len(call.linkedids) == 2 and call.id == min(call.linkedids)


def test_recording_path_is_the_mixmonitor_file() -> None:
    call = replay(load("inbound_direct_answered"))[0]
    assert call.recording is not None and call.recording.endswith(".wav") and "/monitor/" in call.recording


def test_unanswered_call_has_no_recording() -> None:
    assert [c.recordings for c in replay(load("inbound_direct_missed"))] == [()]


def test_wait_is_the_time_until_the_answer() -> None:
    call = replay(load("inbound_direct_answered"))[0]
    assert (
        call.answered_at is not None
        and call.wait_seconds == (call.answered_at - call.started_at).total_seconds()
    )


def test_cyrillic_caller_name_is_kept() -> None:
    assert [c.client_name for c in replay(load("inbound_cyrillic_name"))] == [
        "Ёлкина Анна-Мария Щукина (ООО «Ромашка»)"
    ]


def test_normal_hangup_cause_is_reported() -> None:
    assert [c.hangup_cause for c in replay(load("internal_answered"))] == [16]


def test_busy_client_reports_cause_17() -> None:
    assert [c.hangup_cause for c in replay(load("outbound_busy"))] == [17]

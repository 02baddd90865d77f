"""The pure rules from a call to Bitrix24's fields."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.bitrix24 import mapping, recording
from connector.calls.model import Direction, Disposition, Leg
from tests.unit.bitrix24.conftest import DID, T0, answered_call, missed_call


def test_answered_call_is_status_200() -> None:
    assert mapping.status_code(answered_call()) == "200"


def test_missed_incoming_call_is_304() -> None:
    assert mapping.status_code(missed_call()) == "304"


def test_client_hanging_up_while_ringing_is_missed_not_cancelled() -> None:
    assert mapping.status_code(missed_call(disposition=Disposition.CANCELLED)) == "304"


def test_employee_cancelling_an_outgoing_call_is_603_s() -> None:
    call = missed_call(direction=Direction.OUTBOUND, disposition=Disposition.CANCELLED)
    assert mapping.status_code(call) == "603-S"


def test_busy_is_486() -> None:
    assert mapping.status_code(missed_call(disposition=Disposition.BUSY, hangup_cause=17)) == "486"


def test_rejected_call_is_603() -> None:
    assert mapping.status_code(missed_call(disposition=Disposition.FAILED, hangup_cause=21)) == "603"


@pytest.mark.parametrize(("cause", "code"), [(1, "404"), (34, "503"), (19, "480"), (None, "503")])
def test_failed_call_status_follows_the_hangup_cause(cause: int | None, code: str) -> None:
    call = missed_call(direction=Direction.OUTBOUND, disposition=Disposition.FAILED, hangup_cause=cause)
    assert mapping.status_code(call) == code


def test_unanswered_outgoing_call_is_480() -> None:
    call = missed_call(direction=Direction.OUTBOUND, disposition=Disposition.NO_ANSWER, hangup_cause=19)
    assert mapping.status_code(call) == "480"


def test_call_types() -> None:
    assert mapping.call_type(Direction.OUTBOUND, None, ()) == mapping.OUTGOING
    assert mapping.call_type(Direction.INBOUND, DID, ()) == mapping.INCOMING
    assert mapping.call_type(Direction.INBOUND, DID, (), redirected=True) == mapping.INCOMING_REDIRECTED
    assert mapping.call_type(Direction.INBOUND, DID, ("+7 495 111-00-01",)) == mapping.CALLBACK


def test_answerer_is_responsible_for_an_answered_call() -> None:
    assert mapping.responsible_extension(answered_call(), "") == "202"


def test_longest_talker_is_responsible_after_a_transfer() -> None:
    a = T0 + timedelta(seconds=5)
    call = answered_call(
        legs=(Leg("201", a, a + timedelta(seconds=20)), Leg("205", a, a + timedelta(seconds=300)))
    )
    assert mapping.responsible_extension(call, "") == "205"
    assert [leg.extension for _, leg in mapping.other_legs(call)] == ["201"]


def test_missed_call_goes_to_the_configured_responsible() -> None:
    assert mapping.responsible_extension(missed_call(), "209") == "209"


def test_missed_call_without_a_configured_responsible_goes_to_the_first_who_rang() -> None:
    assert mapping.responsible_extension(missed_call(), "") == "201"


def test_start_date_carries_the_offset_of_the_portal_time_zone() -> None:
    assert mapping.start_date(T0, "Europe/Moscow") == "2026-11-20T12:00:00+03:00"


def test_mp3_and_wav_keep_their_name_others_are_uploaded_as_mp3() -> None:
    assert recording.upload_name("/monitor/2026/11/20/in-1.MP3") == "in-1.MP3"
    assert recording.upload_name("/monitor/in-1.wav") == "in-1.wav"
    assert recording.upload_name("/monitor/in-1.gsm") == "in-1.mp3"

"""The call-control service: toll-fraud guards, rate limit, and the AMI actions it sends."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connector.calls.model import TransferKind
from connector.control import (
    CallControl,
    CallControlSettings,
    PbxUnavailableError,
    RateLimiter,
    TooManyCallsError,
)
from connector.errors import AmiConnectionError, CallControlError, CallNotFoundError, NotPermittedError

from .recorder import RecordingPbx, channel


@dataclass(frozen=True)
class Token:
    """An API caller allowed some extensions."""

    name: str
    extensions: tuple[str, ...]

    @property
    def rate_key(self) -> str:
        return f"token:{self.name}"

    def may_act_for(self, extension: str) -> bool:
        return "*" in self.extensions or extension in self.extensions


def control(pbx: RecordingPbx, **options: object) -> CallControl:
    return CallControl(pbx, CallControlSettings(**options))  # type: ignore[arg-type]


async def test_click_to_call_rings_the_employee_and_then_dials_the_number() -> None:
    pbx = RecordingPbx()
    conversation = await control(pbx).originate("201", "8 (916) 123-45-67")
    name, headers = pbx.sent[0]
    assert (name, headers["Channel"], headers["Context"], headers["Exten"], headers["ChannelId"]) == (
        "Originate",
        "Local/201@internal-originate",
        "all_peers",
        "89161234567",
        conversation,
    )


async def test_click_to_call_passes_the_crm_call_id_to_the_channel() -> None:
    pbx = RecordingPbx()
    await control(pbx).originate("201", "+79161234567", crm_call_id="externalCall.42")
    assert "CRM_CALL_ID=externalCall.42" in pbx.sent[0][1]["Variable"].split(",")


async def test_a_number_outside_the_patterns_is_refused_before_anything_is_dialled() -> None:
    pbx = RecordingPbx()
    with pytest.raises(NotPermittedError):
        await control(pbx).originate("201", "+881612345678")
    assert pbx.sent == []


async def test_an_extension_the_token_may_not_use_is_refused() -> None:
    pbx = RecordingPbx()
    with pytest.raises(NotPermittedError):
        await control(pbx).originate("205", "+79161234567", by=Token("widget", ("201",)))
    assert pbx.sent == []


async def test_a_non_extension_cannot_place_calls() -> None:
    with pytest.raises(NotPermittedError):
        await control(RecordingPbx()).originate("SIP-1611151795", "+79161234567")


async def test_the_rate_limit_refuses_the_call_over_the_limit() -> None:
    c = control(RecordingPbx(), calls_per_minute=2)
    token = Token("widget", ("*",))
    await c.originate("201", "+79161234567", by=token)
    await c.originate("201", "+79161234567", by=token)
    with pytest.raises(TooManyCallsError):
        await c.originate("201", "+79161234567", by=token)


async def test_the_rate_limit_is_per_token() -> None:
    c = control(RecordingPbx(), calls_per_minute=1)
    await c.originate("201", "+79161234567", by=Token("a", ("*",)))
    await c.originate("201", "+79161234567", by=Token("b", ("*",)))


def test_the_rate_limit_frees_a_slot_after_a_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0])
    limiter.take("widget")
    now[0] = 60.5
    limiter.take("widget")


async def test_asterisk_refusing_becomes_a_call_control_error() -> None:
    pbx = RecordingPbx()
    pbx.refuse["Originate"] = "Extension does not exist."
    with pytest.raises(CallControlError, match="Extension does not exist"):
        await control(pbx).originate("201", "+79161234567")


async def test_ami_down_is_reported_as_the_pbx_unavailable() -> None:
    class Down(RecordingPbx):
        async def send(self, action, headers=None, **kw):  # type: ignore[no-untyped-def,override]
            raise AmiConnectionError("Originate: AMI is not connected")

    with pytest.raises(PbxUnavailableError):
        await control(Down()).originate("201", "+79161234567")


INBOUND = [
    channel("PJSIP/SIP-1611151795-00000001", "pbx-100.1", "pbx-100.1", bridge="b1"),
    channel("PJSIP/201-00000002", "pbx-100.2", "pbx-100.1", bridge="b1"),
]
OUTBOUND = [
    channel("Local/201@internal-originate-00000001;1", "crm-100.1", "crm-100.1"),
    channel("PJSIP/201-00000002", "pbx-100.2", "crm-100.1", bridge="b1"),
    channel("PJSIP/SIP-1611151795-00000003", "pbx-100.3", "crm-100.1", bridge="b1"),
]


def hung_up(pbx: RecordingPbx) -> list[str]:
    return [headers["Channel"] for name, headers in pbx.sent if name == "Hangup"]


async def test_hangup_of_an_incoming_call_ends_only_the_employees_channel() -> None:
    pbx = RecordingPbx(INBOUND)
    await control(pbx).hangup("201")
    assert hung_up(pbx) == ["PJSIP/201-00000002"]


async def test_hangup_of_an_outgoing_call_ends_the_clients_channel_too() -> None:
    pbx = RecordingPbx(OUTBOUND)
    await control(pbx).hangup("201")
    assert hung_up(pbx) == ["PJSIP/201-00000002", "PJSIP/SIP-1611151795-00000003"]


async def test_hangup_without_a_call_is_not_found() -> None:
    with pytest.raises(CallNotFoundError):
        await control(RecordingPbx(INBOUND)).hangup("202")


async def test_blind_transfer_sends_blindtransfer_on_the_employees_channel() -> None:
    pbx = RecordingPbx(INBOUND)
    await control(pbx).transfer("201", "203", TransferKind.BLIND)
    assert pbx.sent[-1] == (
        "BlindTransfer",
        {"Channel": "PJSIP/201-00000002", "Context": "internal", "Exten": "203"},
    )


async def test_attended_transfer_sends_atxfer_on_the_employees_channel() -> None:
    pbx = RecordingPbx(INBOUND)
    await control(pbx).transfer("201", "203", TransferKind.ATTENDED)
    assert pbx.sent[-1] == (
        "Atxfer",
        {"Channel": "PJSIP/201-00000002", "Context": "internal", "Exten": "203"},
    )


async def test_a_transfer_to_an_outside_number_is_refused() -> None:
    pbx = RecordingPbx(INBOUND)
    with pytest.raises(NotPermittedError):
        await control(pbx).transfer("201", "89161234567", TransferKind.BLIND)
    assert pbx.sent == []


async def test_a_transfer_of_a_ringing_phone_is_not_found() -> None:
    ringing = [channel("PJSIP/201-00000002", "pbx-100.2", "pbx-100.1", state="Ringing")]
    with pytest.raises(CallNotFoundError):
        await control(RecordingPbx(ringing)).transfer("201", "203", TransferKind.BLIND)


async def test_switched_off_call_control_places_no_call() -> None:
    pbx = RecordingPbx()
    with pytest.raises(NotPermittedError):
        await control(pbx, enabled=False).originate("201", "+79161234567")
    assert pbx.sent == []


def test_a_variable_with_a_comma_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="variables"):
        CallControlSettings(variables={"ROUTE": "a,b"})


async def test_an_unbound_ami_slot_reports_the_pbx_unavailable() -> None:
    from connector.control import AmiSlot

    with pytest.raises(PbxUnavailableError):
        await CallControl(AmiSlot(), CallControlSettings()).originate("201", "+79161234567")


async def test_a_bound_ami_slot_sends_through_the_client() -> None:
    from connector.control import AmiSlot

    pbx, slot = RecordingPbx(), AmiSlot()
    slot.bind(pbx)
    await CallControl(slot, CallControlSettings()).originate("201", "+79161234567")
    assert pbx.actions() == ["Originate"]


async def test_a_crm_call_id_that_would_add_a_channel_variable_is_refused_and_costs_no_rate() -> None:
    pbx = RecordingPbx()
    c = control(pbx, calls_per_minute=1)
    with pytest.raises(NotPermittedError, match="CRM_CALL_ID"):
        await c.originate("201", "+79161234567", crm_call_id="abc,OUTBOUND_ROUTE=evil")
    await c.originate("201", "+79161234567", crm_call_id="abc")
    assert len(pbx.sent) == 1


async def test_one_entry_point_is_limited_as_a_whole_across_extensions() -> None:
    pbx = RecordingPbx()
    c = control(pbx, calls_per_minute=2, crm_calls_per_minute=5)
    widget = c.entry_point("amocrm")
    for n in range(5):
        await widget.originate(f"20{n}", "+79161234567")
    with pytest.raises(TooManyCallsError, match="per CRM entry point"):
        await widget.originate("209", "+79161234567")
    await c.entry_point("bitrix24").originate("209", "+79161234567")  # another entry point's share
    assert len(pbx.sent) == 6


async def test_the_whole_daemon_has_a_limit_over_every_token() -> None:
    pbx = RecordingPbx()
    c = control(pbx, calls_per_minute=2, crm_calls_per_minute=2, total_calls_per_minute=3)
    for n in range(3):
        await c.originate("201", "+79161234567", by=Token(f"t{n}", ("*",)))
    with pytest.raises(TooManyCallsError, match="whole PBX"):
        await c.originate("201", "+79161234567", by=Token("t9", ("*",)))
    assert (len(pbx.sent), c.limits.refused["total"]) == (3, 1)

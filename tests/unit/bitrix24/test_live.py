"""Ring time: one registration per conversation, call cards shown and hidden per employee mode."""

from __future__ import annotations

import aiohttp

from adapters.bitrix24 import create
from adapters.bitrix24.settings import Employee, ExternalLine
from connector.calls.model import Direction, LiveKind
from connector.crm import AdapterContext, MemoryState
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import (
    CLIENT,
    DID,
    MakeAdapter,
    answered_call,
    live,
    settings_for,
    start_portal,
)


async def test_queue_call_is_registered_once_with_the_conversation_id(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    for ext in ("201", "202", "203"):
        await adapter.on_live(live(LiveKind.RINGING, ext))
    assert len(portal.calls) == 1
    assert [c.call_id for c in portal.calls_by_external_id("1700000000.1")] == list(portal.calls)


async def test_registration_carries_number_line_type_and_start_with_offset(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(timezone="Europe/Moscow")
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (call,) = portal.calls.values()
    assert call.params["PHONE_NUMBER"] == CLIENT.lstrip("+")
    assert call.params["LINE_NUMBER"] == DID
    assert call.params["TYPE"] == 2
    assert call.params["CALL_START_DATE"] == "2026-11-20T12:00:00+03:00"
    assert call.user_id == 11


async def test_each_ringing_member_gets_the_card(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    for ext in ("201", "202", "203"):
        await adapter.on_live(live(LiveKind.RINGING, ext))
    (call,) = portal.calls.values()
    assert call.shown == {11, 12, 13}


async def test_answer_hides_the_card_from_the_others(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    for ext in ("201", "202", "203"):
        await adapter.on_live(live(LiveKind.RINGING, ext))
    await adapter.on_live(live(LiveKind.ANSWERED, "202"))
    (call,) = portal.calls.values()
    assert call.shown == {12}
    assert sorted(u for action, u in call.card_log if action == "hide") == [11, 13]


async def test_employee_with_open_card_never_gets_no_card(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(employees=(Employee("201", open_card="never"),))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.on_live(live(LiveKind.ANSWERED, "201"))
    (call,) = portal.calls.values()
    assert call.card_log == []


async def test_on_answer_mode_opens_the_card_only_when_answered(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(open_card="on_answer")
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (call,) = portal.calls.values()
    assert call.shown == set()
    await adapter.on_live(live(LiveKind.ANSWERED, "201"))
    assert call.shown == {11}


async def test_transfer_moves_the_card_to_the_new_employee(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.on_live(live(LiveKind.ANSWERED, "201"))
    await adapter.on_live(live(LiveKind.TRANSFERRED, "203", from_exten="201"))
    (call,) = portal.calls.values()
    assert call.shown == {13}


async def test_unmapped_extension_registers_as_the_pbx_user(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "299"))
    (call,) = portal.calls.values()
    assert call.user_id == 1  # the webhook's owner stands in for the PBX
    assert call.card_log == []


async def test_outgoing_call_is_registered_as_outgoing(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "202", direction=Direction.OUTBOUND, did=None))
    (call,) = portal.calls.values()
    assert call.params["TYPE"] == 1
    assert call.user_id == 12


async def test_repeated_live_job_does_not_register_again(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    event = live(LiveKind.RINGING, "201")
    await adapter.on_live(event)
    await adapter.on_live(event)  # the outbox retried a job that had in fact gone through
    (call,) = portal.calls.values()
    assert [a for a, _ in call.card_log] == ["show"]


async def test_internal_calls_make_no_live_jobs(make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    assert not adapter.wants_live(live(LiveKind.RINGING, "201", direction=Direction.INTERNAL))


async def test_registration_binds_the_known_contact(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    contact_id = portal.add_contact("8 (916) 123-45-67", "Known client")
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (call,) = portal.calls.values()
    assert (call.crm_type, call.crm_id) == ("CONTACT", contact_id)


async def test_start_publishes_the_dids_as_named_external_lines(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    await make_adapter(lines=(ExternalLine(DID, "Сайт"),))
    assert portal.lines[DID]["NAME"] == "Сайт"


async def test_a_webhook_starts_without_asking_for_what_only_an_app_may_do(
    session: aiohttp.ClientSession,
) -> None:
    fake = await start_portal()
    try:
        context = AdapterContext(name="bitrix24", session=session, state=MemoryState())
        adapter = create(settings_for(fake, auth="webhook", lines=(ExternalLine(DID, "Сайт"),)), context)
        await adapter.start()
        assert fake.lines == {}
        assert not [m for m in fake.requests if m.startswith("telephony.externalline")]
        # nothing that would be refused with WRONG_AUTH_TYPE and park the adapter is queued
        assert not adapter.jobs_for(answered_call())
        assert not adapter.wants_live(live(LiveKind.RINGING, "201"))
    finally:
        await fake.stop()

"""Entity creation for callers: contact/deal/lead, simple vs repeat-sales mode, directions, blacklist."""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.bitrix24 import create
from adapters.bitrix24.settings import EntitySettings
from connector.calls.model import Direction, LiveKind
from connector.crm import AdapterContext, MemoryState
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import (
    CLIENT,
    MakeAdapter,
    answered_call,
    live,
    missed_call,
    settings_for,
    start_portal,
)


def rules(**changes: Any) -> EntitySettings:
    return EntitySettings(create_for="all", **changes)


async def test_no_entities_are_created_by_default(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    assert (portal.contacts, portal.deals, portal.leads) == ({}, {}, {})


async def test_unknown_caller_gets_a_nameless_contact_and_a_deal_titled_with_the_phone(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules())
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (contact,) = portal.contacts.values()
    (deal,) = portal.deals.values()
    # the deal is added in the same batch, chained to the contact: ids travel as text, as in a
    # real portal's answers
    assert (contact["NAME"], deal["TITLE"], str(deal["CONTACT_ID"])) == (
        "Без имени",
        CLIENT,
        str(contact["ID"]),
    )


async def test_entities_made_for_calls_stay_out_of_the_live_feed(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules())
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.log_call(answered_call())  # created for 201, reassigned to the answerer 202
    assert len(portal.contacts) == 1 and {str(d["ASSIGNED_BY_ID"]) for d in portal.deals.values()} == {"12"}
    assert portal.feed == []  # REGISTER_SONET_EVENT=N on every add and update


async def test_call_is_bound_to_the_created_contact(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter(entities=rules())
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (call,) = portal.calls.values()
    (contact_id,) = portal.contacts
    assert (call.crm_type, call.crm_id) == ("CONTACT", contact_id)


async def test_contact_name_follows_the_template(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter(entities=rules(create="contact", contact_name="Клиент {phone}"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (contact,) = portal.contacts.values()
    assert contact["NAME"] == f"Клиент {CLIENT}"
    assert portal.deals == {}


async def test_lead_mode_creates_a_lead_with_the_phone(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules(create="lead"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (lead,) = portal.leads.values()
    assert lead["PHONE"][0]["VALUE"] == CLIENT.lstrip("+")
    assert portal.contacts == {}


async def test_known_caller_creates_nothing_in_simple_mode(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    portal.add_contact(CLIENT)
    adapter = await make_adapter(entities=rules())
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    assert (len(portal.contacts), portal.deals) == (1, {})


async def test_repeat_sales_creates_a_deal_for_a_known_client_without_an_active_one(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    contact_id = portal.add_contact(CLIENT)
    portal.add_deal(contact_id, "Old, won", stage="S")
    adapter = await make_adapter(entities=rules(mode="repeat_sales"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    new = [d for d in portal.deals.values() if d["TITLE"] == CLIENT]
    assert [d["CONTACT_ID"] for d in new] == [contact_id]
    assert len(portal.contacts) == 1


async def test_repeat_sales_skips_a_client_with_an_active_deal(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    contact_id = portal.add_contact(CLIENT)
    portal.add_deal(contact_id, "In progress", stage="P")
    adapter = await make_adapter(entities=rules(mode="repeat_sales"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    assert len(portal.deals) == 1


async def test_blacklisted_number_creates_nothing(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter(entities=rules(blacklist=("8 916 123-45-67",)))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    assert portal.contacts == {}


async def test_outgoing_only_rule_ignores_incoming_calls(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=EntitySettings(create_for="outgoing"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    assert portal.contacts == {}


async def test_incoming_only_rule_ignores_outgoing_calls(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=EntitySettings(create_for="incoming"))
    await adapter.on_live(live(LiveKind.RINGING, "201", direction=Direction.OUTBOUND, did=None))
    assert portal.contacts == {}


async def test_created_entities_go_to_the_answerer_at_finish(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules())
    await adapter.on_live(live(LiveKind.RINGING, "201"))  # created for 201 while it rang
    await adapter.log_call(answered_call())  # 202 answered
    owners = {e["ASSIGNED_BY_ID"] for e in [*portal.contacts.values(), *portal.deals.values()]}
    assert owners == {"12"}


async def test_missed_call_entities_go_to_the_responsible_for_missed_calls(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules(), missed_responsible="203")
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.log_call(missed_call())
    (contact,) = portal.contacts.values()
    assert contact["ASSIGNED_BY_ID"] == "13"


async def test_entities_are_created_at_finish_when_no_live_event_came(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules())
    await adapter.log_call(answered_call())
    (contact,) = portal.contacts.values()
    assert portal.activities[0]["OWNER_ID"] == contact["ID"]


async def test_lookup_returns_the_responsible_and_their_extension(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    portal.add_contact(CLIENT, "Анна", assigned=13)
    adapter = await make_adapter()
    found = await adapter.lookup(CLIENT)
    assert found is not None
    assert (found.name, found.responsible_user_id, found.responsible_extension) == ("Анна", "13", "203")


async def test_lookup_falls_back_to_duplicates_when_telephony_is_refused(
    session: aiohttp.ClientSession, state: MemoryState
) -> None:
    fake = await start_portal()
    try:
        refusal = '{"error": "WRONG_AUTH_TYPE", "error_description": "Current authorization type is denied"}'
        fake.inject("telephony.externalcall.searchCrmEntities", 403, refusal)
        fake.add_contact(CLIENT, "Анна", assigned=12)
        adapter = create(settings_for(fake), AdapterContext(name="bitrix24", session=session, state=state))
        found = await adapter.lookup(CLIENT)
        assert found is not None
        assert (found.responsible_user_id, found.responsible_extension) == ("12", "202")
    finally:
        await fake.stop()


async def test_lookup_of_an_unknown_number_is_none(make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    assert await adapter.lookup("+79990000000") is None


async def test_portal_mode_asks_the_portal_to_create_and_binds_its_entities(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules(by="portal"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (call,) = portal.calls.values()
    (contact_id,) = portal.contacts
    assert (call.params["CRM_CREATE"], call.crm_type, call.crm_id) == (1, "CONTACT", contact_id)


async def test_portal_mode_gives_created_entities_to_the_answerer(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(entities=rules(by="portal"))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    await adapter.log_call(answered_call())
    assert {d["ASSIGNED_BY_ID"] for d in portal.deals.values()} == {12}


async def test_portal_mode_respects_the_blacklist(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter(entities=rules(by="portal", blacklist=(CLIENT,)))
    await adapter.on_live(live(LiveKind.RINGING, "201"))
    (call,) = portal.calls.values()
    assert (call.params["CRM_CREATE"], portal.contacts) == (0, {})

"""amoCRM did what was asked but the answer never arrived: the retry must not file it twice.

amoCRM stores no `request_id` and keeps two calls with the same `uniq`, so the adapter records its
intent before each create and, on a retry, looks up what exists before sending again. The fake
carries the request out, then closes the connection (`drop_answer`).
"""

from __future__ import annotations

from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.settings import EntityRule, LineSettings
from connector.calls.model import Call
from connector.errors import TransientError
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import CLIENT, DID, PIPELINE, Build, make_call


async def retried(adapter: AmoCrmAdapter, call: Call, *, unsorted: bool = False) -> None:
    """What the outbox does: run the job again after each transient failure."""
    for _ in range(6):
        try:
            await (adapter.create_unsorted(call) if unsorted else adapter.log_call(call))
            return
        except TransientError:
            continue
    raise AssertionError("the job never succeeded")


async def test_a_lost_call_answer_then_a_retry_leaves_one_call(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    fake.drop_answer("/api/v4/calls")
    call = make_call()
    await retried(adapter, call)
    assert len(fake.calls_with_uniq(call.id)) == 1


async def test_lost_answers_for_contact_lead_task_and_call_leave_one_of_each(
    fake: FakeAmoCrm, build: Build
) -> None:
    rule = EntityRule(contact=True, lead=True, task=True)
    adapter = await build(lines=(LineSettings(did=DID, incoming_unknown=rule),))
    for path in ("/api/v4/contacts", "/api/v4/leads", "/api/v4/tasks", "/api/v4/calls"):
        fake.drop_answer(path)
    call = make_call()
    await retried(adapter, call)
    assert len(fake.contacts_with_phone(CLIENT)) == 1
    assert (len(fake.leads), len(fake.tasks)) == (1, 1)
    assert len(fake.calls_with_uniq(call.id)) == 1


async def test_a_lost_unsorted_answer_then_a_retry_leaves_one_entry(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LineSettings(did=DID, pipeline_id=PIPELINE),))
    fake.drop_answer("/api/v4/leads/unsorted/sip")
    call = make_call()
    await retried(adapter, call, unsorted=True)
    await adapter.log_call(call)
    assert len(fake.unsorted) == 1
    assert len(fake.calls_with_uniq(call.id)) == 1
    # the entry found again is remembered like one created: its lead and contact ids
    stored = await adapter.context.state.get(f"unsorted:{call.id}")
    assert stored == {"uid": fake.unsorted[0]["uid"], "lead_id": fake.unsorted[0]["lead_id"],
                      "contact_id": fake.unsorted[0]["contact_id"]}  # fmt: skip


async def test_a_lost_note_answer_in_notes_mode_leaves_one_note(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build(log_as="notes")
    fake.drop_answer("/api/v4/contacts/notes")
    call = make_call()
    await retried(adapter, call)
    assert len(fake.calls_with_uniq(call.id)) == 1


async def test_request_id_deduplicates_nothing(fake: FakeAmoCrm, build: Build) -> None:
    # why the adapter cannot lean on request_id: amoCRM echoes it and keeps both calls
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    body = [{"direction": "inbound", "uniq": "u1", "duration": 5, "source": "MikoPBX", "phone": CLIENT,
             "request_id": "same"}]  # fmt: skip
    await adapter.client.post("/api/v4/calls", body)
    await adapter.client.post("/api/v4/calls", body)
    assert len(fake.calls_with_uniq("u1")) == 2


async def test_a_lost_answer_for_a_call_filed_on_a_customer_leaves_one_call(
    fake: FakeAmoCrm, build: Build
) -> None:
    # an account with repeat sales: amoCRM files the call on the contact's only customer
    contact = fake.add_contact("Иван", [CLIENT])
    customer = fake.add_customer(contact)
    adapter = await build()
    fake.drop_answer("/api/v4/calls")
    call = make_call()
    await retried(adapter, call)
    [logged] = fake.calls_with_uniq(call.id)
    assert (logged["entity_type"], logged["entity_id"]) == ("customers", customer)
    assert await adapter.context.state.get(f"call:{call.id}") == {
        "call": logged["id"],
        "entity": f"customers:{customer}",
    }

"""Unknown callers become unsorted SIP leads in the line's pipeline, with their contact and call."""

from __future__ import annotations

from adapters.amocrm.settings import EntityRule, LineSettings
from connector.calls.model import Direction, Disposition
from tests.fakes.amocrm import UNSORTED_STATUS_ID, FakeAmoCrm
from tests.unit.amocrm.conftest import CLIENT, DID, PIPELINE, Build, make_call

LINE = LineSettings(did=DID, pipeline_id=PIPELINE)


async def test_unknown_answered_caller_becomes_unsorted_in_lines_pipeline(
    fake: FakeAmoCrm, build: Build
) -> None:
    adapter = await build(lines=(LINE,))
    await adapter.create_unsorted(make_call())
    [entry] = fake.unsorted
    assert entry["pipeline_id"] == PIPELINE
    lead = fake.leads[entry["lead_id"]]
    assert (lead["pipeline_id"], lead["status_id"]) == (PIPELINE, UNSORTED_STATUS_ID)


async def test_unsorted_creates_the_contact_with_the_phone(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LINE,))
    await adapter.create_unsorted(make_call())
    [contact] = fake.contacts_with_phone(CLIENT)
    assert contact["id"] == fake.unsorted[0]["contact_id"]


async def test_unknown_missed_caller_becomes_unsorted(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LINE,))
    await adapter.create_unsorted(make_call(disposition=Disposition.MISSED, answered_by=None, talk=0))
    assert len(fake.unsorted) == 1
    assert fake.unsorted[0]["metadata"]["duration"] == 0


async def test_unsorted_carries_the_call_with_uniq_and_link(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LINE,))
    call = make_call(recordings=("r.mp3",))
    await adapter.create_unsorted(call)
    [note] = fake.calls_with_uniq(call.id)
    assert note["params"]["link"].startswith("https://pbx.example.ru/recordings/r.mp3")


async def test_log_call_after_unsorted_adds_no_second_call(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LINE,))
    call = make_call()
    await adapter.create_unsorted(call)
    await adapter.log_call(call)
    assert len(fake.calls_with_uniq(call.id)) == 1


async def test_retried_create_unsorted_makes_one_entry(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LINE,))
    call = make_call()
    await adapter.create_unsorted(call)
    await adapter.create_unsorted(call)
    assert len(fake.unsorted) == 1


async def test_entry_created_before_state_was_lost_is_accepted_as_done(
    fake: FakeAmoCrm, build: Build
) -> None:
    adapter = await build(lines=(LINE,))
    call = make_call()
    await adapter.create_unsorted(call)
    await adapter.context.state.delete(f"unsorted:{call.id}")  # as if we died before saving it
    adapter.contacts.forget(CLIENT)
    fake.contacts.clear()  # and amoCRM's search has not indexed the new contact yet
    await adapter.create_unsorted(call)
    assert len(fake.unsorted) == 1


async def test_known_caller_makes_no_unsorted(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build(lines=(LINE,))
    await adapter.create_unsorted(make_call())
    assert fake.unsorted == []


async def test_line_without_unsorted_rule_creates_contact_instead(fake: FakeAmoCrm, build: Build) -> None:
    line = LineSettings(did=DID, incoming_unknown=EntityRule(contact=True))
    adapter = await build(lines=(line,))
    call = make_call()
    await adapter.create_unsorted(call)
    await adapter.log_call(call)
    assert fake.unsorted == []
    [contact] = fake.contacts_with_phone(CLIENT)
    assert fake.calls[0]["entity_id"] == contact["id"]


async def test_unsorted_is_created_by_log_call_when_its_job_did_not_run(
    fake: FakeAmoCrm, build: Build
) -> None:
    adapter = await build(lines=(LINE,))
    await adapter.log_call(make_call())
    assert len(fake.unsorted) == 1
    assert fake.calls == []


async def test_unknown_answered_caller_is_assigned_to_who_answered(fake: FakeAmoCrm, build: Build) -> None:
    manager = fake.add_user("Мария")
    adapter = await build(lines=(LINE,), users={"202": str(manager)})
    await adapter.create_unsorted(make_call(answered_by="202"))
    assert fake.contacts_with_phone(CLIENT)[0]["responsible_user_id"] == manager


async def test_unknown_missed_caller_is_assigned_to_first_who_rang(fake: FakeAmoCrm, build: Build) -> None:
    first = fake.add_user("Первый")
    adapter = await build(lines=(LINE,), users={"201": str(first), "202": str(fake.add_user("Второй"))})
    await adapter.create_unsorted(make_call(disposition=Disposition.MISSED, answered_by=None, talk=0))
    assert fake.contacts_with_phone(CLIENT)[0]["responsible_user_id"] == first


async def test_outgoing_call_makes_no_unsorted_job(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build(lines=(LINE,))
    jobs = adapter.jobs_for(make_call(direction=Direction.OUTBOUND, rang=(), answered_by="203"))
    assert [j.value for j in jobs] == ["log_call"]


async def test_missed_unknown_rule_with_task_puts_task_on_the_unsorted_lead(
    fake: FakeAmoCrm, build: Build
) -> None:
    line = LineSettings(did=DID, pipeline_id=PIPELINE, missed_unknown=EntityRule(unsorted=True, task=True))
    adapter = await build(lines=(line,))
    call = make_call(disposition=Disposition.MISSED, answered_by=None, talk=0)
    await adapter.create_unsorted(call)
    await adapter.log_call(call)
    await adapter.log_call(call)
    [task] = fake.tasks
    assert (task["entity_type"], task["entity_id"]) == ("leads", fake.unsorted[0]["lead_id"])

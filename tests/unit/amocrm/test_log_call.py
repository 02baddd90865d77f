"""Finished calls filed in amoCRM: on the right card, with the right status, people and link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.amocrm.settings import EntityRule, LineSettings
from connector.calls.model import Direction, Disposition, Transfer, TransferKind
from connector.errors import TransientError
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import CLIENT, DID, PIPELINE, START, Build, make_call


async def test_known_client_call_lands_on_contact_with_uniq_and_duration(
    fake: FakeAmoCrm, build: Build
) -> None:
    contact_id = fake.add_contact("Иван Петров", ["+79161234567"])
    adapter = await build()
    await adapter.log_call(make_call(talk=95))
    [call] = fake.calls
    assert (call["entity_type"], call["entity_id"]) == ("contacts", contact_id)
    assert call["uniq"] == "1763631000.10"
    assert call["duration"] == 95
    assert call["call_status"] == 4
    assert call["direction"] == "inbound"


async def test_call_on_client_with_one_active_lead_lands_on_the_lead(fake: FakeAmoCrm, build: Build) -> None:
    contact_id = fake.add_contact("Иван", ["89161234567"])
    lead_id = fake.add_lead(contact_id)
    adapter = await build()
    await adapter.log_call(make_call())
    assert (fake.calls[0]["entity_type"], fake.calls[0]["entity_id"]) == ("leads", lead_id)


async def test_answered_call_belongs_to_who_answered(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    manager = fake.add_user("Мария", "maria@example.ru")
    adapter = await build(users={"202": "maria@example.ru"})
    await adapter.log_call(make_call(answered_by="202"))
    assert fake.calls[0]["responsible_user_id"] == manager
    assert fake.calls[0]["created_by"] == manager


async def test_outgoing_call_belongs_to_who_called(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    caller = fake.add_user("Олег")
    adapter = await build(users={"203": str(caller)})
    call = make_call(direction=Direction.OUTBOUND, rang=(), answered_by="203", did=None)
    await adapter.log_call(call)
    assert fake.calls[0]["direction"] == "outbound"
    assert fake.calls[0]["created_by"] == caller


async def test_missed_call_of_known_client_goes_to_contacts_responsible(
    fake: FakeAmoCrm, build: Build
) -> None:
    owner = fake.add_user("Анна")
    fake.add_contact("Иван", [CLIENT], responsible_user_id=owner)
    adapter = await build(users={"201": str(fake.add_user("Борис"))})
    await adapter.log_call(make_call(disposition=Disposition.NO_ANSWER, answered_by=None, talk=0))
    assert fake.calls[0]["responsible_user_id"] == owner


async def test_busy_outgoing_call_has_status_busy(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    call = make_call(direction=Direction.OUTBOUND, disposition=Disposition.BUSY, rang=(), answered_by="203")
    await adapter.log_call(call)
    assert fake.calls[0]["call_status"] == 7
    assert fake.calls[0]["duration"] == 0


async def test_unmapped_extension_is_filed_as_the_pbx_not_an_error(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    await adapter.log_call(make_call(answered_by="205"))
    call = fake.calls[0]
    assert "responsible_user_id" not in call
    assert "сотрудник: MikoPBX (205)" in call["call_result"]


async def test_recording_link_is_the_signed_url_of_the_daemon(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    await adapter.log_call(make_call(recordings=("2026/11/20/rec-1.mp3",)))
    assert fake.calls[0]["link"] == "https://pbx.example.ru/recordings/2026/11/20/rec-1.mp3?exp=1&sig=abc"


async def test_call_without_recording_sends_no_link_field(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    await adapter.log_call(make_call())
    assert "link" not in fake.calls[0]


async def test_retried_call_is_logged_once(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    call = make_call()
    await adapter.log_call(call)
    await adapter.log_call(call)
    assert len(fake.calls_with_uniq(call.id)) == 1


async def test_entity_not_found_creates_contact_then_logs_call(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build()
    call = make_call(
        direction=Direction.OUTBOUND, disposition=Disposition.NO_ANSWER, rang=(), answered_by="203"
    )
    await adapter.log_call(call)
    [contact] = fake.contacts_with_phone(CLIENT)
    assert contact["name"] == "Без имени"
    assert fake.calls[0]["entity_id"] == contact["id"]


async def test_outgoing_call_to_unknown_number_creates_named_contact(fake: FakeAmoCrm, build: Build) -> None:
    line = LineSettings(did="*", contact_name="Клиент {phone}")
    adapter = await build(lines=(line,))
    await adapter.log_call(make_call(direction=Direction.OUTBOUND, rang=(), answered_by="203", did=None))
    [contact] = fake.contacts_with_phone(CLIENT)
    assert contact["name"] == f"Клиент {CLIENT}"
    assert len(fake.calls) == 1


async def test_transfer_chain_is_in_call_result(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    moved = Transfer(TransferKind.ATTENDED, "202", "205", START + timedelta(seconds=40))
    await adapter.log_call(make_call(transfers=(moved,)))
    assert "перевод: 202 → 205" in fake.calls[0]["call_result"]


async def test_line_name_is_in_call_result(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build(lines=(LineSettings(did=DID, name="Сайт"),))
    await adapter.log_call(make_call())
    assert fake.calls[0]["call_result"].endswith("линия: Сайт")


async def test_notes_mode_adds_call_in_note_to_contact(fake: FakeAmoCrm, build: Build) -> None:
    contact_id = fake.add_contact("Иван", [CLIENT])
    adapter = await build(log_as="notes")
    await adapter.log_call(make_call(recordings=("r.mp3",)))
    [note] = fake.notes
    assert (note["entity_type"], note["entity_id"], note["note_type"]) == ("contacts", contact_id, "call_in")
    assert note["params"]["link"].startswith("https://pbx.example.ru/recordings/r.mp3")
    assert fake.calls == []


async def test_missed_known_rule_with_task_creates_task_with_phone_and_deadline(
    fake: FakeAmoCrm, build: Build
) -> None:
    contact_id = fake.add_contact("Иван", [CLIENT])
    line = LineSettings(did=DID, missed_known=EntityRule(task=True), task_deadline_minutes=30)
    adapter = await build(lines=(line,))
    call = make_call(disposition=Disposition.MISSED, answered_by=None, talk=0)
    await adapter.log_call(call)
    [task] = fake.tasks
    assert task["text"] == f"Перезвонить клиенту {CLIENT}"
    assert (task["entity_type"], task["entity_id"]) == ("contacts", contact_id)
    assert task["complete_till"] >= int(call.ended_at.timestamp()) + 30 * 60


async def test_lead_rule_creates_lead_in_lines_pipeline(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    line = LineSettings(
        did=DID, pipeline_id=PIPELINE, incoming_known=EntityRule(lead=True), lead_name="Звонок {line}"
    )
    adapter = await build(lines=(line,))
    await adapter.log_call(make_call())
    [lead] = fake.leads.values()
    assert (lead["pipeline_id"], lead["name"]) == (PIPELINE, f"Звонок {DID}")


async def test_retry_after_failure_past_lead_creation_keeps_one_lead(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build(lines=(LineSettings(did=DID, incoming_known=EntityRule(lead=True)),))
    fake.fail_next(502, path="/api/v4/calls")
    call = make_call()
    with pytest.raises(TransientError):
        await adapter.log_call(call)
    await adapter.log_call(call)
    assert len(fake.leads) == 1
    assert len(fake.calls_with_uniq(call.id)) == 1


async def test_call_from_a_company_number_lands_on_the_company(fake: FakeAmoCrm, build: Build) -> None:
    company_id = fake.add_company("ООО Ромашка", [CLIENT])
    adapter = await build()
    await adapter.create_unsorted(make_call())
    await adapter.log_call(make_call())
    assert (fake.calls[0]["entity_type"], fake.calls[0]["entity_id"]) == ("companies", company_id)
    assert fake.unsorted == []


async def test_notes_mode_puts_company_calls_on_the_company(fake: FakeAmoCrm, build: Build) -> None:
    company_id = fake.add_company("ООО Ромашка", [CLIENT])
    adapter = await build(log_as="notes")
    await adapter.log_call(make_call())
    assert (fake.notes[0]["entity_type"], fake.notes[0]["entity_id"]) == ("companies", company_id)


async def test_who_talked_is_the_calls_call_responsible_everywhere(fake: FakeAmoCrm, build: Build) -> None:
    manager = fake.add_user("Мария")
    fake.add_contact("Иван", [CLIENT])
    adapter = await build(users={"202": str(manager)})
    await adapter.log_call(make_call(answered_by="202"))
    assert fake.calls[0]["call_responsible"] == manager
    notes = await build(users={"202": str(manager)}, log_as="notes")
    await notes.log_call(make_call("1763631000.11", answered_by="202"))
    assert fake.calls_with_uniq("1763631000.11")[0]["params"]["call_responsible"] == manager
    unsorted = await build(users={"202": str(manager)})
    await unsorted.create_unsorted(make_call("1763631000.12", client="+79990001122", answered_by="202"))
    assert fake.unsorted[0]["metadata"]["call_responsible"] == manager


async def test_every_legs_recording_is_linked(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    await adapter.log_call(make_call(recordings=("a/rec-1.mp3", "a/rec-2.mp3", "a/rec-3.mp3")))
    call = fake.calls[0]
    assert call["link"].startswith("https://pbx.example.ru/recordings/a/rec-1.mp3")
    assert "запись 2: https://pbx.example.ru/recordings/a/rec-2.mp3" in call["call_result"]
    assert "запись 3: https://pbx.example.ru/recordings/a/rec-3.mp3" in call["call_result"]

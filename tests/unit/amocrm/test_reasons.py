"""The call record's reason (issue 24) in amoCRM: the call's status and result, or a note."""

from __future__ import annotations

import dataclasses

from adapters.amocrm.settings import LineSettings
from connector.calls.model import Call, Direction, Disposition
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import CLIENT, DID, PIPELINE, Build, make_call
from tests.unit.bitrix24.conftest import with_reason


def closed_hours(**changes: object) -> Call:
    call = make_call(disposition=Disposition.MISSED, rang=(), answered_by=None, talk=0)
    return with_reason(dataclasses.replace(call, **changes), "closed_hours")


async def test_closed_hours_call_of_a_known_client_is_a_missed_call_with_its_reason(
    fake: FakeAmoCrm, build: Build
) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    call = closed_hours()
    for kind in adapter.jobs_for(call):  # as the outbox hands it over: the record's JSON
        await adapter.perform(kind, call.to_dict())
    [logged] = fake.calls_with_uniq(call.id)
    assert logged["call_result"].startswith("Пропущенный вызов | причина: Звонок в нерабочее время")
    assert (logged["direction"], logged["duration"], logged["call_status"]) == ("inbound", 0, 3)


async def test_closed_hours_call_of_an_unknown_caller_is_unsorted_with_a_note_of_the_reason(
    fake: FakeAmoCrm, build: Build
) -> None:
    adapter = await build(lines=(LineSettings(did=DID, pipeline_id=PIPELINE),))
    call = closed_hours()
    for kind in adapter.jobs_for(call):  # create_unsorted, then log_call
        await adapter.perform(kind, call.to_dict())
    [entry] = fake.unsorted
    assert entry["metadata"]["duration"] == 0
    [note] = [n for n in fake.notes if n["note_type"] == "common"]
    assert (note["entity_type"], note["entity_id"]) == ("leads", entry["lead_id"])
    assert note["params"]["text"] == "Причина: Звонок в нерабочее время"


async def test_outgoing_call_with_no_route_is_a_wrong_number(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    call = make_call(direction=Direction.OUTBOUND, disposition=Disposition.FAILED, rang=(), answered_by="203",
                     talk=0)  # fmt: skip
    await adapter.log_call(with_reason(call, "no_route"))
    [logged] = fake.calls_with_uniq(call.id)
    assert logged["call_status"] == 5 and "Нет маршрута" in logged["call_result"]


async def test_a_message_left_on_voicemail_is_status_left_a_message(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    call = make_call(disposition=Disposition.MISSED, rang=("201",), answered_by=None, talk=0)
    call = with_reason(call, "voicemail", voicemail_box="201", voicemail_left=True)
    await adapter.log_call(call)
    [logged] = fake.calls_with_uniq(call.id)
    assert logged["call_status"] == 1
    assert "причина: Клиент оставил сообщение на голосовой почте (ящик 201)" in logged["call_result"]

"""Recorded Asterisk captures → tracker → outbox → dispatcher → adapter → fake amoCRM.

Every capture in tests/fixtures/ami is replayed twice: once with its callers known to amoCRM
(calls land on their cards) and once unknown (incoming ones become unsorted leads, outgoing
ones get a contact). The CRM's state is checked, not the requests we think we sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.settings import LineSettings
from connector.calls.model import Call, Direction, Disposition
from connector.config import OutboxSettings
from connector.sync.dispatcher import Dispatcher
from connector.sync.drain import drain
from connector.sync.outbox import Outbox
from connector.sync.ratelimit import RateLimit
from tests.fakes.amocrm import DEFAULT_PIPELINE_ID, UNSORTED_STATUS_ID, FakeAmoCrm
from tests.unit.amocrm.conftest import PIPELINE, Build, recording_link
from tests.unit.calls.captures import CAPTURES, load, replay

FAST = OutboxSettings(
    max_attempts=20, backoff_min=0.01, backoff_max=0.05, lease_seconds=10, job_timeout=5, poll_seconds=30
)
HANG_GUARD = 60.0  # only stops a broken test from hanging; nothing is timed
STATUS = {Disposition.ANSWERED: 4, Disposition.BUSY: 7, Disposition.FAILED: 3}
# A call nobody took is filed by its reason where amoCRM has a status for it (1: a message left).
REASON_STATUS = {"closed_hours": 3, "busy_on_call": 7, "no_route": 5}
EXTENSIONS = ("201", "202", "203", "204", "205", "206", "207", "208")
LINES = (LineSettings(did="74951110001", name="Сайт", pipeline_id=PIPELINE), LineSettings(did="*"))


async def deliver(
    fake: FakeAmoCrm, build: Build, outbox: Outbox, capture: Path, known: bool
) -> tuple[AmoCrmAdapter, list[Call]]:
    calls = replay(load(capture.stem))
    users = {ext: str(fake.add_user(f"Сотрудник {ext}")) for ext in EXTENSIONS}
    if known:
        for client in {c.client for c in calls if c.direction is not Direction.INTERNAL}:
            fake.add_contact(f"Клиент {client}", [client], responsible_user_id=int(users["206"]))
    adapter = await build(lines=LINES, users=users)
    for call in calls:
        await outbox.record_call(call, [adapter])
    changed = asyncio.Event()
    dispatcher = Dispatcher(
        outbox,
        {"amocrm": adapter},
        FAST,
        limits={"amocrm": RateLimit(50.0, 1, 4)},
        listener=lambda _: changed.set(),
    )
    assert await drain(outbox, dispatcher, changed, asyncio.Event(), within=HANG_GUARD)
    assert dispatcher.counts.get("dead", 0) == 0
    return adapter, calls


def external(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.direction is not Direction.INTERNAL]


def _having(wanted: set[Direction]) -> list[Path]:
    return [p for p in CAPTURES if any(c.direction in wanted for c in replay(load(p.stem)))]


WITH_EXTERNAL = _having({Direction.INBOUND, Direction.OUTBOUND})
WITH_INBOUND = _having({Direction.INBOUND})
INTERNAL_ONLY = [p for p in CAPTURES if p not in WITH_EXTERNAL]


@pytest.mark.parametrize("capture", WITH_EXTERNAL, ids=[p.stem for p in WITH_EXTERNAL])
async def test_each_external_call_is_filed_once_for_a_known_client(
    fake: FakeAmoCrm, build: Build, outbox: Outbox, capture: Path
) -> None:
    _, calls = await deliver(fake, build, outbox, capture, known=True)
    assert all(len(fake.calls_with_uniq(c.id)) == 1 for c in external(calls))
    assert len(fake.calls) == len(external(calls))
    assert fake.unsorted == []


@pytest.mark.parametrize("capture", WITH_EXTERNAL, ids=[p.stem for p in WITH_EXTERNAL])
async def test_each_external_call_is_filed_once_for_an_unknown_client(
    fake: FakeAmoCrm, build: Build, outbox: Outbox, capture: Path
) -> None:
    _, calls = await deliver(fake, build, outbox, capture, known=False)
    assert all(len(fake.calls_with_uniq(c.id)) == 1 for c in external(calls))
    callers = {c.client for c in calls if c.direction is Direction.INBOUND}
    assert sorted(u["metadata"]["phone"] for u in fake.unsorted) == sorted(callers)  # one per new number
    assert all(len(fake.contacts_with_phone(client)) == 1 for client in callers)


def _expected_status(call: Call) -> int:
    reason = (
        call.reason.value
        if call.reason is not None and call.disposition is not Disposition.ANSWERED
        else None
    )
    if reason == "voicemail" and call.voicemail_left:
        return 1
    return REASON_STATUS.get(reason or "", STATUS.get(call.disposition, 6))


@pytest.mark.parametrize("capture", WITH_EXTERNAL, ids=[p.stem for p in WITH_EXTERNAL])
async def test_known_clients_calls_carry_status_people_and_recording(
    fake: FakeAmoCrm, build: Build, outbox: Outbox, capture: Path
) -> None:
    adapter, calls = await deliver(fake, build, outbox, capture, known=True)
    for call in external(calls):
        [filed] = fake.calls_with_uniq(call.id)
        assert filed["call_status"] == _expected_status(call)
        assert filed["direction"] == ("outbound" if call.direction is Direction.OUTBOUND else "inbound")
        assert filed.get("link") == (recording_link(call.recording) if call.recording else None)
        who = (
            call.answered_by
            if call.direction is Direction.INBOUND
            else (call.legs[0].extension if call.legs else None)
        )
        if call.disposition is Disposition.ANSWERED and who:
            assert filed["responsible_user_id"] == adapter.users.user_of(who)
        elif call.direction is Direction.INBOUND:  # missed: the contact's responsible manager
            assert filed["responsible_user_id"] == adapter.users.user_of("206")
        for transfer in call.transfers:
            assert (
                f"{transfer.from_ext}" in filed["call_result"]
                and f"{transfer.to_ext}" in filed["call_result"]
            )


@pytest.mark.parametrize("capture", WITH_INBOUND, ids=[p.stem for p in WITH_INBOUND])
async def test_unknown_incoming_callers_land_in_the_lines_pipeline(
    fake: FakeAmoCrm, build: Build, outbox: Outbox, capture: Path
) -> None:
    _, calls = await deliver(fake, build, outbox, capture, known=False)
    by_id = {c.id: c for c in calls}
    assert fake.unsorted
    for entry in fake.unsorted:
        call, lead = by_id[entry["metadata"]["uniq"]], fake.leads[entry["lead_id"]]
        pipeline = PIPELINE if (call.did or "").endswith("74951110001") else DEFAULT_PIPELINE_ID
        assert (lead["pipeline_id"], lead["status_id"]) == (pipeline, UNSORTED_STATUS_ID)


@pytest.mark.parametrize("capture", INTERNAL_ONLY, ids=[p.stem for p in INTERNAL_ONLY])
async def test_internal_calls_leave_amocrm_untouched(
    fake: FakeAmoCrm, build: Build, outbox: Outbox, capture: Path
) -> None:
    await deliver(fake, build, outbox, capture, known=False)
    assert (fake.calls, fake.notes, fake.unsorted, fake.contacts) == ([], [], [], {})

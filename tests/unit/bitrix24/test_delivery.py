"""End to end: live events and finished calls through the SQLite outbox and dispatcher to the fake portal."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.bitrix24 import Bitrix24Adapter, create
from adapters.bitrix24.auth import TOKENS_KEY
from adapters.bitrix24.settings import EntitySettings
from connector.calls.model import Call, LiveEvent, LiveKind
from connector.config import OutboxSettings
from connector.crm import AdapterContext
from connector.sync.dispatcher import Dispatcher
from connector.sync.drain import drain
from connector.sync.outbox import Outbox
from connector.sync.ratelimit import RateLimit
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import T0, answered_call, live, settings_for, start_portal

OUTBOX = OutboxSettings(
    max_attempts=20, backoff_min=0.01, backoff_max=0.05, lease_seconds=10, job_timeout=5, poll_seconds=0.5
)
HANG_GUARD = 120.0  # not a timing assertion: only stops a broken run from hanging the suite


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Outbox]:
    outbox = await Outbox.open(tmp_path / "outbox.db")
    yield outbox
    await outbox.close()


def adapter_for(
    portal: FakeBitrix24, box: Outbox, session: aiohttp.ClientSession, **changes: Any
) -> Bitrix24Adapter:
    context = AdapterContext(name="bitrix24", session=session, state=box.state("bitrix24"))
    adapter = create(settings_for(portal, **changes), context)
    assert isinstance(adapter, Bitrix24Adapter)
    return adapter


async def deliver(box: Outbox, adapter: Bitrix24Adapter) -> None:
    """Run the dispatcher until every job is delivered or dead."""
    changed, stop = asyncio.Event(), asyncio.Event()
    dispatcher = Dispatcher(
        box,
        {"bitrix24": adapter},
        OUTBOX,
        limits={"bitrix24": adapter.settings.rate_limit},
        listener=lambda _: changed.set(),
    )
    assert await drain(box, dispatcher, changed, stop, within=HANG_GUARD)


async def dead_jobs(box: Outbox) -> int:
    stats = await box.stats()
    return stats.adapters["bitrix24"].dead if "bitrix24" in stats.adapters else 0


async def enqueue(box: Outbox, adapter: Bitrix24Adapter, events: list[LiveEvent], call: Call) -> None:
    for event in events:
        await box.record_live(event, [adapter])
    await box.record_call(call, [adapter])


def queue_events(call_id: str = "1700000000.1") -> list[LiveEvent]:
    rings = [live(LiveKind.RINGING, ext, call_id=call_id) for ext in ("201", "202", "203")]
    return [*rings, live(LiveKind.ANSWERED, "202", call_id=call_id, at=T0 + timedelta(seconds=10))]


async def test_queue_call_is_registered_once_shown_to_members_and_finished(
    portal: FakeBitrix24, box: Outbox, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    recording = tmp_path / "in-1700000000.1.mp3"
    recording.write_bytes(b"ID3 recording")
    adapter = adapter_for(portal, box, session)
    await enqueue(box, adapter, queue_events(), answered_call(recordings=(str(recording),)))
    await deliver(box, adapter)
    (call,) = portal.calls.values()
    assert sorted(u for action, u in call.card_log if action == "show") == [11, 12, 13]
    assert sorted(u for action, u in call.card_log if action == "hide") == [11, 13]
    assert [(a["RESPONSIBLE_ID"], a["STATUS_CODE"]) for a in portal.activities] == [(12, "200")]
    assert portal.records[call.call_id]["content"] == b"ID3 recording"


async def test_register_refused_at_ring_time_is_registered_by_finish(
    portal: FakeBitrix24, box: Outbox, session: aiohttp.ClientSession
) -> None:
    portal.inject(
        "telephony.externalcall.register", 400, '{"error": "ERROR_CORE", "error_description": "Locked"}'
    )
    adapter = adapter_for(portal, box, session)
    await enqueue(box, adapter, queue_events(), answered_call())
    await deliver(box, adapter)
    assert len(portal.activities) == 1
    assert await dead_jobs(box) == 0


async def test_failed_attach_is_retried_without_finishing_again(
    portal: FakeBitrix24, box: Outbox, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    recording = tmp_path / "in-1700000000.1.wav"
    recording.write_bytes(b"RIFF....WAVE")
    portal.inject("telephony.externalcall.attachrecord", 503, "<html>503</html>", "text/html", times=3)
    adapter = adapter_for(portal, box, session)
    await enqueue(box, adapter, queue_events(), answered_call(recordings=(str(recording),)))
    await deliver(box, adapter)
    assert (len(portal.activities), len(portal.records)) == (1, 1)


async def test_oauth_token_expiry_mid_stream_loses_nothing_and_keeps_the_new_tokens(
    box: Outbox, session: aiohttp.ClientSession
) -> None:
    portal = await start_portal(auth="oauth")
    try:
        adapter = adapter_for(portal, box, session, auth="oauth")
        await enqueue(box, adapter, queue_events("1.1"), answered_call(id="1.1", linkedids=("1.1",)))
        await deliver(box, adapter)
        portal.expire_tokens()
        await enqueue(box, adapter, queue_events("2.1"), answered_call(id="2.1", linkedids=("2.1",)))
        await deliver(box, adapter)
        stored = await box.state("bitrix24").get(TOKENS_KEY)
        assert isinstance(stored, dict)
        assert len(portal.activities) == 2
        assert stored["refresh_token"] in portal.refresh_tokens  # the durable copy is the live one
    finally:
        await portal.stop()


async def test_burst_of_100_calls_is_paced_under_the_limit_without_duplicates(
    box: Outbox, session: aiohttp.ClientSession
) -> None:
    # The portal's 2/s with a burst of 50, scaled up so the run is short: same shape, same rule.
    portal = await start_portal(rate=200.0, burst=20)
    try:
        adapter = adapter_for(portal, box, session, rate_limit=RateLimit(180.0, 18, 4))
        for n in range(100):
            call_id = f"17000{n:05d}.1"
            call = dataclasses.replace(
                answered_call(), id=call_id, linkedids=(call_id,), client=f"+7916{n:07d}"
            )
            events = [dataclasses.replace(e, client=call.client) for e in queue_events(call_id)]
            await enqueue(box, adapter, events, call)
        await deliver(box, adapter)
        external_ids = [c.params["EXTERNAL_CALL_ID"] for c in portal.calls.values()]
        assert len(external_ids) == len(set(external_ids)) == 100
        assert sorted(a["CALL_ID"] for a in portal.activities) == sorted(portal.calls)
        assert (portal.limited, await dead_jobs(box)) == (0, 0)
    finally:
        await portal.stop()


async def test_restarted_oauth_adapter_uses_the_stored_tokens_not_the_configured_one(
    box: Outbox, session: aiohttp.ClientSession
) -> None:
    portal = await start_portal(auth="oauth")
    try:
        first = adapter_for(portal, box, session, auth="oauth")
        await enqueue(box, first, queue_events("1.1"), answered_call(id="1.1", linkedids=("1.1",)))
        await deliver(box, first)
        portal.expire_tokens()  # and the configured refresh token was used up by the first run
        second = adapter_for(portal, box, session, auth="oauth")  # a restart: same outbox file
        await enqueue(box, second, queue_events("2.1"), answered_call(id="2.1", linkedids=("2.1",)))
        await deliver(box, second)
        assert (len(portal.activities), await dead_jobs(box)) == (2, 0)
    finally:
        await portal.stop()


async def test_unknown_caller_gets_contact_and_deal_owned_by_the_answerer(
    portal: FakeBitrix24, box: Outbox, session: aiohttp.ClientSession
) -> None:
    adapter = adapter_for(portal, box, session, entities=EntitySettings(create_for="incoming"))
    await enqueue(box, adapter, queue_events(), answered_call())
    await deliver(box, adapter)
    (contact,) = portal.contacts.values()
    (deal,) = portal.deals.values()
    assert (contact["NAME"], deal["TITLE"]) == ("Без имени", "+79161234567")
    assert {contact["ASSIGNED_BY_ID"], deal["ASSIGNED_BY_ID"]} == {"12"}
    assert portal.activities[0]["DEALS"] == [deal["ID"]]

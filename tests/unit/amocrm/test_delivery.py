"""End to end over real HTTP and a real outbox: calls → outbox → dispatcher → adapter → fake amoCRM."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.settings import LineSettings
from connector import registry
from connector.calls.model import Call, Direction, Disposition
from connector.config import OutboxSettings
from connector.crm import AdapterContext, JobKind
from connector.sync.dispatcher import Dispatcher
from connector.sync.drain import drain
from connector.sync.outbox import Outbox
from connector.sync.pool import Outcome
from connector.sync.ratelimit import RateLimit
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import DID, PIPELINE, Build, make_call, settings_for

FAST = OutboxSettings(
    max_attempts=20, backoff_min=0.01, backoff_max=0.05, lease_seconds=10, job_timeout=5, poll_seconds=30
)
HANG_GUARD = 60.0  # only stops a broken test from hanging; nothing is timed
LINE = LineSettings(did=DID, pipeline_id=PIPELINE)


async def deliver(outbox: Outbox, adapter: AmoCrmAdapter, calls: list[Call], on_outcome=None) -> Dispatcher:  # type: ignore[no-untyped-def]
    for call in calls:
        await outbox.record_call(call, [adapter])
    changed = asyncio.Event()

    def listener(outcome: Outcome) -> None:
        changed.set()
        if on_outcome is not None:
            on_outcome(outcome)

    dispatcher = Dispatcher(
        outbox, {"amocrm": adapter}, FAST, limits={"amocrm": RateLimit(50.0, 1, 4)}, listener=listener
    )
    assert await drain(outbox, dispatcher, changed, asyncio.Event(), within=HANG_GUARD)
    return dispatcher


def mixed_calls(count: int, fake: FakeAmoCrm) -> list[Call]:
    """Known/unknown × answered/missed × inbound/outbound, finishing at the same moment."""
    calls = []
    for i in range(count):
        phone = f"+7916{i:07d}"
        if i % 2 == 0:
            fake.add_contact(f"Клиент {i}", [phone])
        direction = Direction.OUTBOUND if i % 4 == 3 else Direction.INBOUND
        disposition = Disposition.ANSWERED if i % 3 else Disposition.MISSED
        answered_by = "202" if disposition is Disposition.ANSWERED else None
        calls.append(
            make_call(
                f"1763631000.{i}",
                client=phone,
                direction=direction,
                disposition=disposition,
                answered_by=answered_by or ("203" if direction is Direction.OUTBOUND else None),
                talk=30 if answered_by else 0,
            )
        )
    return calls


async def test_burst_of_100_calls_is_delivered_once_each_without_429s(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    adapter = await build(lines=(LINE,))
    calls = mixed_calls(100, fake)
    dispatcher = await deliver(outbox, adapter, calls)
    assert [h.status for h in fake.hits].count(429) == 0
    assert all(len(fake.calls_with_uniq(c.id)) == 1 for c in calls)
    assert dispatcher.counts.get("dead", 0) == 0


async def test_unknown_inbound_callers_of_a_burst_each_get_one_unsorted(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    adapter = await build(lines=(LINE,))
    calls = mixed_calls(40, fake)
    await deliver(outbox, adapter, calls)
    unknown_inbound = [c for i, c in enumerate(calls) if i % 2 and c.direction is Direction.INBOUND]
    assert sorted(u["metadata"]["uniq"] for u in fake.unsorted) == sorted(c.id for c in unknown_inbound)


async def test_token_expiry_mid_run_loses_nothing(fake: FakeAmoCrm, build: Build, outbox: Outbox) -> None:
    adapter = await build(lines=(LINE,))
    calls = mixed_calls(30, fake)
    delivered = 0

    def expire_once(outcome: Outcome) -> None:
        nonlocal delivered
        delivered += outcome.result == "delivered"
        if delivered == 10:
            fake.expire_access_tokens()

    dispatcher = await deliver(outbox, adapter, calls, expire_once)
    assert all(len(fake.calls_with_uniq(c.id)) == 1 for c in calls)
    assert dispatcher.counts.get("parked", 0) == 0
    assert len(fake.valid_refresh_tokens()) == 1


async def test_amocrm_outage_is_retried_until_delivered(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    fake.add_contact("Иван", ["+79161234567"])
    adapter = await build(lines=(LINE,))
    fake.fail_next(503, count=3, path="/api/v4/calls")
    call = make_call()
    dispatcher = await deliver(outbox, adapter, [call])
    assert len(fake.calls_with_uniq(call.id)) == 1
    assert dispatcher.counts["retry"] == 3


async def test_rejected_body_dead_letters_with_amocrms_message(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    fake.add_contact("Иван", ["+79161234567"])
    adapter = await build(lines=(LINE,))
    problem = (
        '{"validation-errors": [{"request_id": "0", "errors": [{"code": "NotSupportedChoice",'
        ' "path": "0.call_status", "detail": "The value you selected is not a valid choice."}]}],'
        ' "title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400,'
        ' "detail": "Request validation failed"}'
    )
    fake.fail_next(400, body=problem, path="/api/v4/calls")
    errors: list[str] = []
    await deliver(
        outbox, adapter, [make_call()], lambda o: errors.append(o.error or "") if o.result == "dead" else None
    )
    assert errors and "0.call_status: The value you selected is not a valid choice." in errors[0]


async def test_adapter_from_the_registry_delivers_without_start(
    fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox
) -> None:
    fake.add_contact("Иван", ["+79161234567"])
    context = AdapterContext("amocrm", session, outbox.state("amocrm"))
    adapter = registry.factory("amocrm")(settings_for(fake), context)  # as `crm-connector outbox drain` does
    await adapter.perform(JobKind.LOG_CALL, make_call().to_dict())
    assert len(fake.calls) == 1

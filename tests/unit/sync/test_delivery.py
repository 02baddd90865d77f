"""End to end over real HTTP: outbox → dispatcher → webhook adapter → the fake receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.webhook import Settings, create
from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.config import OutboxSettings
from connector.crm import Adapter, AdapterContext
from connector.settings_schema import Secret
from connector.sync.dispatcher import Dispatcher
from connector.sync.jobs import JobState
from connector.sync.outbox import Outbox
from tests.fakes.webhook_server import WebhookServer
from tests.unit.sync.conftest import T0, make_call
from tests.unit.sync.test_dispatcher import HANG_GUARD, Outcomes

SECRET = "a-webhook-secret-of-some-length"
FAST = OutboxSettings(
    max_attempts=50, backoff_min=0.01, backoff_max=0.05, lease_seconds=5, job_timeout=2, poll_seconds=30
)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookServer]:
    server = WebhookServer(SECRET)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Outbox]:
    outbox = await Outbox.open(tmp_path / "o.db")
    yield outbox
    await outbox.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def webhook(box: Outbox, session: aiohttp.ClientSession, url: str) -> Adapter:
    settings = Settings(url=url, secret=Secret(SECRET), timeout=2.0)
    return create(
        settings, AdapterContext("webhook", session, box.state("webhook"), lambda p: f"https://pbx/r?{p}")
    )


async def deliver(
    box: Outbox, adapter: object, outcomes: Outcomes, settings: OutboxSettings = FAST
) -> Dispatcher:
    dispatcher = Dispatcher(box, {"webhook": adapter}, settings, listener=outcomes)  # type: ignore[dict-item]
    await dispatcher.start()
    return dispatcher


async def test_crm_down_for_a_while_then_back_gets_everything_once(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    adapter = webhook(box, session, receiver.url)
    await receiver.stop()  # connection refused from now on
    for n in range(25):
        await box.record_call(make_call(f"{n}.1"), [adapter])
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    await outcomes.until(lambda seen: len([o for o in seen if o.result == "retry"]) >= 5)
    await receiver.start()  # back, on the same port
    async with asyncio.timeout(HANG_GUARD):
        await receiver.wait_for(50)
    await outcomes.until(lambda seen: len(outcomes.results("delivered")) >= 50)
    await dispatcher.stop()
    assert len(receiver.effects) == 50
    assert set(receiver.posts.values()) == {1}
    assert (await box.stats()).depth == 0


async def test_429_retry_after_is_honoured(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    adapter = webhook(box, session, receiver.url)
    receiver.fail_next(1, 429, "<html>Too Many Requests</html>", {"Retry-After": "1"})
    await box.record_call(make_call(recording=False), [adapter])
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    await outcomes.until(lambda seen: bool(outcomes.results("delivered")))
    await dispatcher.stop()
    first, second = (at for _, at in receiver.arrivals[:2])
    assert outcomes.seen[0].delay == 1.0
    assert second - first >= 1.0


async def test_503_retry_after_is_honoured(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    adapter = webhook(box, session, receiver.url)
    receiver.fail_next(1, 503, '{"error": "QUERY_LIMIT_EXCEEDED"}', {"Retry-After": "1"})
    await box.record_call(make_call(recording=False), [adapter])
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    await outcomes.until(lambda seen: bool(outcomes.results("delivered")))
    await dispatcher.stop()
    first, second = (at for _, at in receiver.arrivals[:2])
    assert (outcomes.seen[0].result, outcomes.seen[0].delay) == ("retry", 1.0)
    assert second - first >= 1.0


async def test_permanent_4xx_is_dead_lettered_with_the_receivers_message(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    adapter = webhook(box, session, receiver.url)
    receiver.fail_next(1, 400, '{"title": "Entity not found", "status": 263}')
    await box.record_call(make_call(recording=False), [adapter])
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    await outcomes.until(bool)
    await dispatcher.stop()
    [job] = await box.jobs(states=[JobState.DEAD])
    assert job.last_error is not None
    assert job.last_error.endswith('answered HTTP 400: {"title": "Entity not found", "status": 263}')


async def test_401_parks_the_adapter(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    adapter = webhook(box, session, receiver.url)
    receiver.fail_next(1, 401, "token expired")
    await box.record_call(make_call(recording=False), [adapter])
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    await outcomes.until(bool)
    health = dispatcher.health()["webhook"]
    await dispatcher.stop()
    assert (outcomes.seen[0].result, health.state) == ("parked", "parked")


async def test_receiver_gets_a_signed_call_and_a_recording_link(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    adapter = webhook(box, session, receiver.url)
    call = make_call("7.1")
    await box.record_call(call, [adapter])
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    async with asyncio.timeout(HANG_GUARD):
        await receiver.wait_for(2)
    await dispatcher.stop()
    assert receiver.unsigned == 0
    assert receiver.effects["webhook:7.1:log_call"] == {
        "event": "call.finished",
        "key": "webhook:7.1:log_call",
        "call": call.to_dict(),
    }
    assert receiver.effects["webhook:7.1:attach_recording"]["recording"] == {
        "file": "7.1.mp3",
        "url": "https://pbx/r?/rec/7.1.mp3",
    }


async def test_live_event_reaches_the_receiver_under_its_job_key(
    box: Outbox, session: aiohttp.ClientSession, receiver: WebhookServer
) -> None:
    settings = Settings(url=receiver.url, secret=Secret(SECRET), live_events=True)
    adapter = create(settings, AdapterContext("webhook", session, box.state("webhook")))
    ringing = LiveEvent(LiveKind.RINGING, "9.1", T0, Direction.INBOUND, "+79161234567", exten="201")
    await box.record_live(ringing, [adapter])
    [job] = await box.jobs()
    outcomes = Outcomes()
    dispatcher = await deliver(box, adapter, outcomes)
    async with asyncio.timeout(HANG_GUARD):
        await receiver.wait_for(1)
    await dispatcher.stop()
    assert receiver.effects[job.key] == {"event": "call.live", "key": job.key, "live": ringing.to_dict()}

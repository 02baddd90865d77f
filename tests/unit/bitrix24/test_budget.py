"""One request budget per portal for the daemon and `outbox drain` (two processes, one outbox file)."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from adapters.bitrix24.auth import WebhookAuth
from adapters.bitrix24.budget import SharedBudget
from adapters.bitrix24.client import Bitrix24Client
from connector.crm import MemoryState
from connector.errors import RateLimitedError
from connector.sync.ratelimit import RateLimit, TokenBucket
from tests.unit.bitrix24.conftest import start_portal

LIMIT = RateLimit(2.0, 5, 4)  # the portal's rate; a small burst so the test is short


async def burst(clients: list[Bitrix24Client], each: int) -> None:
    async def one(client: Bitrix24Client) -> None:
        for _ in range(each):
            await client.call("crm.contact.list", {"filter": {"ID": 1}})

    await asyncio.gather(*(one(c) for c in clients))


async def test_two_processes_sharing_the_state_stay_within_the_portals_bucket(
    session: aiohttp.ClientSession,
) -> None:
    portal = await start_portal(rate=LIMIT.rate, burst=LIMIT.burst)
    try:
        shared = MemoryState()  # the outbox database both processes open
        clients = [
            Bitrix24Client(
                session,
                WebhookAuth(portal.webhook_url, MemoryState()),
                SharedBudget(shared, portal.url, LIMIT),
            )
            for _ in range(2)
        ]
        await burst(clients, 4)
        assert portal.limited == 0
    finally:
        await portal.stop()


async def test_two_processes_pacing_alone_are_refused_by_the_portal(session: aiohttp.ClientSession) -> None:
    # what each process's own bucket did before: together they send twice the portal's rate
    portal = await start_portal(rate=LIMIT.rate, burst=LIMIT.burst)
    try:
        clients = [
            Bitrix24Client(session, WebhookAuth(portal.webhook_url, MemoryState()), TokenBucket(LIMIT))
            for _ in range(2)
        ]
        with contextlib.suppress(RateLimitedError):  # a refusal the client's one retry did not absorb
            await burst(clients, 4)
        assert portal.limited > 0
    finally:
        await portal.stop()


async def test_the_budget_waits_for_the_level_to_drain() -> None:
    now = [1000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = SharedBudget(MemoryState(), "https://p", RateLimit(2.0, 4, 1), clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await budget.acquire()
    assert slept == [0.5, 0.5]  # three at once (one of the four kept free), then one every half second

"""Fixtures for the amoCRM adapter tests: the fake account, a real outbox file, calls to file."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.settings import AuthSettings, Settings
from connector.calls.model import Call, Direction, Disposition, Leg, Transfer
from connector.crm import AdapterContext
from connector.settings_schema import Secret
from connector.sync.outbox import Outbox
from connector.sync.ratelimit import RateLimit, TokenBucket
from tests.fakes.amocrm import FakeAmoCrm

START = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CLIENT = "+79161234567"
DID = "74951110001"
PIPELINE = 7001

Build = Callable[..., Awaitable[AmoCrmAdapter]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmoCrm]:
    server = await FakeAmoCrm().start()
    yield server
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = await Outbox.open(tmp_path / "outbox.db", synchronous="normal")
    yield box
    await box.close()


def settings_for(fake: FakeAmoCrm, **changes: Any) -> Settings:
    """OAuth settings pointing at the fake, with a fresh authorization code."""
    auth = AuthSettings(
        client_id=fake.client_id,
        client_secret=Secret(fake.client_secret),
        redirect_uri=fake.redirect_uri,
        auth_code=Secret(fake.issue_code()),
    )
    base = Settings(enabled=True, base_url=fake.url, auth=auth, request_timeout=5.0)
    return dataclasses.replace(base, **changes)


def recording_link(path: str) -> str:
    return f"https://pbx.example.ru/recordings/{path}?exp=1&sig=abc"


@pytest.fixture
def build(fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox) -> Build:
    """Make a started adapter on the fake (state in the real outbox file)."""

    async def make(settings: Settings | None = None, *, fast: bool = True, **changes: Any) -> AmoCrmAdapter:
        chosen = settings or settings_for(fake, **changes)
        context = AdapterContext("amocrm", session, outbox.state("amocrm"), recording_url=recording_link)
        bucket = None
        if fast:
            # amoCRM's shape (7 per window) on a 10x shorter window, so tests stay quick
            fake.window = 0.1
            bucket = TokenBucket(RateLimit(50.0, 1))
        adapter = AmoCrmAdapter(chosen, context, bucket=bucket)
        await adapter.start()
        return adapter

    return make


def make_call(
    call_id: str = "1763631000.10",
    *,
    direction: Direction = Direction.INBOUND,
    client: str = CLIENT,
    did: str | None = DID,
    disposition: Disposition = Disposition.ANSWERED,
    rang: tuple[str, ...] = ("201", "202"),
    answered_by: str | None = "202",
    talk: float = 95.0,
    wait: float = 12.0,
    recordings: tuple[str, ...] = (),
    transfers: tuple[Transfer, ...] = (),
) -> Call:
    """A finished call as the tracker emits it."""
    answered_at = START + timedelta(seconds=wait) if disposition is Disposition.ANSWERED else None
    ended = (answered_at or START + timedelta(seconds=wait)) + timedelta(seconds=talk if answered_at else 0)
    legs: tuple[Leg, ...] = ()
    if answered_at is not None and answered_by:
        legs = (Leg(answered_by, answered_at, ended),)
    return Call(
        id=call_id,
        linkedids=(call_id,),
        direction=direction,
        client=client,
        did=did,
        started_at=START,
        answered_at=answered_at,
        ended_at=ended,
        disposition=disposition,
        rang=rang,
        answered_by=answered_by if answered_at else None,
        legs=legs,
        transfers=transfers,
        recordings=recordings,
    )

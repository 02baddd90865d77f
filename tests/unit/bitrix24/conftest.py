"""Shared pieces for the Bitrix24 tests: the fake portal, a real HTTP session, built adapters."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from adapters.bitrix24 import Bitrix24Adapter, Settings, create
from connector.calls.model import Call, Direction, Disposition, Leg, LiveEvent, LiveKind, Reason
from connector.crm import AdapterContext, MemoryState
from connector.settings_schema import Secret
from connector.sync.ratelimit import RateLimit
from tests.fakes.bitrix24 import FakeBitrix24

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
CLIENT = "+79161234567"
DID = "74951110001"
USERS = {"201": 11, "202": 12, "203": 13}
FAST = RateLimit(1000.0, 1000, 4)

MakeAdapter = Callable[..., Awaitable[Bitrix24Adapter]]


async def start_portal(**options: Any) -> FakeBitrix24:
    """A started fake portal with employees 201/202/203 (users 11/12/13) and the admin (user 1)."""
    options.setdefault("rate", 1000.0)
    options.setdefault("burst", 1000)
    portal = FakeBitrix24(**options)
    await portal.start()
    portal.add_user(1, "", "Admin")
    for ext, user_id in USERS.items():
        portal.add_user(user_id, ext, f"Employee {ext}")
    return portal


@pytest.fixture
async def portal() -> AsyncIterator[FakeBitrix24]:
    """The fake portal (the adapters reach it as an installed application unless told otherwise)."""
    fake = await start_portal()
    yield fake
    await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A real HTTP session, owned by the test as the service would own it."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def state() -> MemoryState:
    """The adapter's durable state (in memory for unit tests)."""
    return MemoryState()


def settings_for(portal: FakeBitrix24, **changes: Any) -> Settings:
    """Adapter settings pointing at `portal`: the application (OAuth), the default and documented
    way, unless auth='webhook' is given."""
    if changes.get("auth") == "webhook":
        base = Settings(
            enabled=True,
            auth="webhook",
            webhook_url=Secret(portal.webhook_url),
            rate_limit=FAST,
            timeout=5.0,
            recording_settle_seconds=0.0,  # test files are complete when written
        )
    else:
        base = Settings(
            enabled=True,
            auth="oauth",
            portal=portal.url,
            oauth_url=portal.oauth_url,
            client_id=portal.client_id,
            client_secret=Secret(portal.client_secret),
            refresh_token=Secret("refresh-initial"),
            rate_limit=FAST,
            timeout=5.0,
            recording_settle_seconds=0.0,
        )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def make_adapter(portal: FakeBitrix24, session: aiohttp.ClientSession, state: MemoryState) -> MakeAdapter:
    """Build (and start) an adapter against the fake portal with setting overrides."""

    async def build(
        call_control: Any = None, target: FakeBitrix24 | None = None, **changes: Any
    ) -> Bitrix24Adapter:
        settings = settings_for(target or portal, **changes)
        context = AdapterContext(name="bitrix24", session=session, state=state, call_control=call_control)
        adapter = create(settings, context)
        assert isinstance(adapter, Bitrix24Adapter)
        await adapter.start()
        return adapter

    return build


def live(
    kind: LiveKind,
    exten: str | None,
    *,
    call_id: str = "1700000000.1",
    direction: Direction = Direction.INBOUND,
    client: str = CLIENT,
    did: str | None = DID,
    at: datetime = T0,
    from_exten: str | None = None,
) -> LiveEvent:
    """A live event as the tracker emits it."""
    return LiveEvent(kind, call_id, at, direction, client, exten=exten, did=did, from_exten=from_exten)


def answered_call(**changes: Any) -> Call:
    """An inbound call rung at 201 and 202, answered by 202 who talked 3 minutes."""
    answered = T0 + timedelta(seconds=10)
    ended = answered + timedelta(seconds=180)
    call = Call(
        id="1700000000.1",
        linkedids=("1700000000.1",),
        direction=Direction.INBOUND,
        client=CLIENT,
        did=DID,
        started_at=T0,
        answered_at=answered,
        ended_at=ended,
        disposition=Disposition.ANSWERED,
        rang=("201", "202"),
        answered_by="202",
        legs=(Leg("202", answered, ended),),
        hangup_cause=16,
    )
    return dataclasses.replace(call, **changes)


def missed_call(**changes: Any) -> Call:
    """An inbound call that rang at 201 and 202 for 30 s; the client gave up."""
    call = Call(
        id="1700000000.1",
        linkedids=("1700000000.1",),
        direction=Direction.INBOUND,
        client=CLIENT,
        did=DID,
        started_at=T0,
        answered_at=None,
        ended_at=T0 + timedelta(seconds=30),
        disposition=Disposition.MISSED,
        rang=("201", "202"),
        hangup_cause=16,
    )
    return dataclasses.replace(call, **changes)


def with_reason(call: Call, reason: str, **changes: Any) -> Call:
    """`call` carrying the record's `reason` (issue 24), as the tracker sets it."""
    return dataclasses.replace(call, reason=Reason(reason), **changes)


def closed_hours_call(**changes: Any) -> Call:
    """An inbound call outside working hours: MikoPBX played the message, no phone rang."""
    call = missed_call(rang=(), ended_at=T0 + timedelta(seconds=12), hangup_cause=16, **changes)
    return with_reason(call, "closed_hours")

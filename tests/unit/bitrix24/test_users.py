"""Extension ↔ user map: read from the portal, overridden in YAML, refreshed, kept on failure."""

from __future__ import annotations

import aiohttp

from adapters.bitrix24.auth import WebhookAuth
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.settings import Employee
from adapters.bitrix24.users import Directory
from connector.crm import MemoryState
from connector.errors import TransientError
from connector.sync.ratelimit import TokenBucket
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import FAST, settings_for


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def directory(
    portal: FakeBitrix24, session: aiohttp.ClientSession, clock: Clock, **changes: object
) -> Directory:
    client = Bitrix24Client(session, WebhookAuth(portal.webhook_url, MemoryState()), TokenBucket(FAST))
    return Directory(client, settings_for(portal, **changes), fallback_user="1", clock=clock)


async def test_extensions_come_from_the_inner_phones(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    users = directory(portal, session, Clock())
    await users.refresh()
    assert (users.user_for("202"), users.extension_for("13")) == ("12", "203")


async def test_inactive_users_are_left_out(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    portal.add_user(14, "204", active=False)
    users = directory(portal, session, Clock())
    await users.refresh()
    assert users.user_for("204") is None


async def test_yaml_overrides_and_disables(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    overrides = (Employee("201", user_id="77"), Employee("202", disabled=True))
    users = directory(portal, session, Clock(), employees=overrides)
    await users.refresh()
    assert (users.user_for("201"), users.user_or_pbx("202")) == ("77", "1")


async def test_map_is_refreshed_after_the_period(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    users = directory(portal, session, clock, users_refresh_seconds=300.0)
    await users.ensure_fresh()
    portal.add_user(15, "205")
    clock.now += 301
    await users.ensure_fresh()
    assert users.user_for("205") == "15"


async def test_map_is_not_reread_within_the_period(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    users = directory(portal, session, clock, users_refresh_seconds=300.0)
    await users.ensure_fresh()
    clock.now += 100
    await users.ensure_fresh()
    assert portal.requests.count("user.get") == 1


async def test_failed_refresh_keeps_the_last_map(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    users = directory(portal, session, clock)
    await users.ensure_fresh()
    portal.inject("user.get", 500, '{"error": "INTERNAL_SERVER_ERROR", "error_description": "oops"}')
    clock.now += 10_000
    await users.ensure_fresh()
    assert users.user_for("201") == "11"


async def test_first_load_failure_is_reported(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    portal.inject("user.get", 500, '{"error": "INTERNAL_SERVER_ERROR", "error_description": "oops"}')
    users = directory(portal, session, Clock())
    try:
        await users.ensure_fresh()
    except TransientError:
        return
    raise AssertionError("a first load failure must surface as TransientError")

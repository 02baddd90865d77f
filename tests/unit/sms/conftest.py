"""Fixtures for the SMS tests: the fake SMSC.ru on loopback, a real store, a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.builtin.sms_settings import SmsSettings
from adapters.builtin.sms_smsc import SmscProvider
from adapters.builtin.store import Store
from connector.settings_schema import Secret
from tests.fakes.smsc import FakeSmsc


class VirtualClock:
    """Monotonic time that moves only when slept on: pacing is checked without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def sms_settings(fake: FakeSmsc, **changes: object) -> SmsSettings:
    """Settings that point at `fake` with its account."""
    options: dict[str, object] = {
        "enabled": True,
        "base_url": fake.url,
        "login": fake.login,
        "password": Secret(fake.password),
        "sender": "Shop",
        "timeout": 5.0,
        "price_per_sms": 2.5,
    }
    options.update(changes)
    return SmsSettings(**options)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual monotonic clock."""
    return VirtualClock()


@pytest.fixture
async def smsc(clock: VirtualClock) -> AsyncIterator[FakeSmsc]:
    """The fake SMSC.ru, its per-minute windows on the virtual clock."""
    fake = FakeSmsc(clock=clock)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def provider(smsc: FakeSmsc) -> AsyncIterator[SmscProvider]:
    """The real SMSC.ru client pointed at the fake."""
    async with aiohttp.ClientSession() as session:
        yield SmscProvider(session, sms_settings(smsc))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An open CRM store in a fresh file."""
    opened = await Store.open(tmp_path / "crm.db")
    try:
        yield opened
    finally:
        await opened.close()

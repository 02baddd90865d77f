"""Fixtures: an AMI server on loopback and settings pointing at it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from connector.config import AmiSettings
from connector.settings_schema import Secret
from tests.unit.ami.amiserver import AmiServer


@pytest.fixture
async def server() -> AsyncIterator[AmiServer]:
    async with AmiServer() as srv:
        yield srv


def settings_for(server: AmiServer, **changes: object) -> AmiSettings:
    """Fast settings against `server` (tiny backoff, quick pings) with `changes` applied."""
    base = AmiSettings(
        username=server.username,
        secret=Secret(server.secret),
        port=server.port,
        connect_timeout=2.0,
        action_timeout=2.0,
        ping_interval=0.05,
        ping_timeout=0.2,
        reconnect_min=0.01,
        reconnect_max=0.05,
        auth_retry=60.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

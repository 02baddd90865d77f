"""Fixtures for the built-in CRM tests: a real SQLite store and a real server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.builtin.store import Store
from tests.unit.builtin.helpers import CrmServer, crm_server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An open store in a fresh file."""
    opened = await Store.open(tmp_path / "crm.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CrmServer]:
    """The HTTP app with the CRM mounted, on 127.0.0.1."""
    async with crm_server(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session."""
    async with aiohttp.ClientSession() as session:
        yield session

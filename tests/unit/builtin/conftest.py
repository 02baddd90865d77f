"""Fixtures for the built-in CRM tests: a real store and a real server on loopback.

`crm_target` runs each test that uses `store` or `server` on both back ends: a fresh SQLite file
and a fresh database on the run's throwaway PostgreSQL server (tests/postgres.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from adapters.builtin.db import PostgresTarget, Target
from adapters.builtin.store import Store
from tests.postgres import Cluster
from tests.unit.builtin.helpers import CrmServer, crm_server

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def crm_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Where a test's CRM lives: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield tmp_path / "crm.db"
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    with cluster.fresh_database() as url:
        yield PostgresTarget(url, files=tmp_path / "crm-files")


@pytest.fixture
async def store(crm_target: Target) -> AsyncIterator[Store]:
    """An open store in a fresh database."""
    opened = await Store.open(crm_target)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def server(tmp_path: Path, crm_target: Target) -> AsyncIterator[CrmServer]:
    """The HTTP app with the CRM mounted, on 127.0.0.1."""
    async with crm_server(tmp_path, target=crm_target) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session."""
    async with aiohttp.ClientSession() as session:
        yield session

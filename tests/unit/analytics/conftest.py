"""Fixtures for analytics tests: a real store, the real app on 127.0.0.1 with a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.builtin import routes, routes_analytics
from adapters.builtin.db import PostgresTarget, Target
from adapters.builtin.store import Store
from connector.api.app import create_app
from connector.config import HttpSettings
from tests.postgres import Cluster
from tests.unit.analytics.dataset import LINES, MSK, FakeClock, fill
from tests.unit.builtin.conftest import BACKENDS
from tests.unit.builtin.helpers import EMPLOYEES, give_logins


@dataclass
class Server:
    """The running app, its store, clock, and an HTTP session."""

    url: str
    store: Store
    clock: FakeClock
    http: aiohttp.ClientSession
    tokens: dict[str, str]

    async def get(self, path: str, ext: str = "201", **params: str) -> Any:
        """GET a JSON answer as the employee at `ext`; asserts 200."""
        async with self.http.get(self.url + path, params=params, headers=self.auth(ext)) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    def auth(self, ext: str) -> dict[str, str]:
        """The Authorization header of the employee at `ext`."""
        return {"Authorization": f"Bearer {self.tokens[ext]}"}


@asynccontextmanager
async def analytics_server(
    tmp_path: Path, *, filled: bool = True, target: Target | None = None
) -> AsyncIterator[Server]:
    """The daemon's app with the built-in CRM, the data set, and a clock fixed at 2026-11-20 12:00 MSK."""
    store = await Store.open(target or tmp_path / "crm.db")
    tokens = {}
    for name, ext, role, token in EMPLOYEES:
        await store.employees.create(name, ext, role, token)
        tokens[ext] = token
    await give_logins(store)
    if filled:
        await fill(store)
    clock = FakeClock()
    app = create_app(HttpSettings())
    routes_analytics.configure(app, LINES, clock=clock, tz=MSK)
    routes.setup(app, store)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Server(f"http://127.0.0.1:{runner.addresses[0][1]}", store, clock, http, tokens)
    finally:
        await runner.cleanup()
        await store.close()


@pytest.fixture(params=BACKENDS)
def crm_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Where a test's CRM lives: a new SQLite file, or a new PostgreSQL database (both run)."""
    if request.param == "sqlite":
        yield tmp_path / "crm.db"
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    with cluster.fresh_database() as url:
        yield PostgresTarget(url, files=tmp_path / "crm-files")


@pytest.fixture
async def server(tmp_path: Path, crm_target: Target) -> AsyncIterator[Server]:
    """The app with the data set loaded."""
    async with analytics_server(tmp_path, target=crm_target) as running:
        yield running


@pytest.fixture
async def empty(tmp_path: Path, crm_target: Target) -> AsyncIterator[Server]:
    """The app with employees and tracking numbers only."""
    async with analytics_server(tmp_path, filled=False, target=crm_target) as running:
        yield running

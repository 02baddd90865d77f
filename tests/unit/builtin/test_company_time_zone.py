"""The company's time zone (a CRM setting) decides "today", "this month" and the report periods.

The server runs in UTC; the company works in Asia/Yekaterinburg (UTC+5). At 20:30 UTC on
30 November it is already 1 December in Yekaterinburg: the default period and the days a call
falls on follow the company, not the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.builtin import routes, routes_analytics
from adapters.builtin.store import Store
from connector.api.app import create_app
from connector.config import HttpSettings
from tests.unit.builtin.helpers import EMPLOYEES, make_call

NOW = datetime(2026, 11, 30, 20, 30, tzinfo=UTC)


@pytest.fixture
async def app_url(tmp_path: Path) -> AsyncIterator[tuple[str, Store, dict[str, str]]]:
    store = await Store.open(tmp_path / "crm.db")
    tokens = {}
    for name, ext, role, token in EMPLOYEES:
        await store.employees.create(name, ext, role, token)
        tokens[ext] = token
    app = create_app(HttpSettings())
    routes_analytics.configure(app, (), clock=lambda: NOW, tz=UTC)  # the server's zone: UTC
    routes.setup(app, store)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", store, tokens
    finally:
        await runner.cleanup()
        await store.close()


async def _summary(url: str, token: str, **params: str) -> Any:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{url}/api/crm/analytics/summary", params=params, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def test_the_default_period_and_the_days_follow_the_companys_time_zone(
    app_url: tuple[str, Store, dict[str, str]],
) -> None:
    url, store, tokens = app_url
    # 19:30 UTC on 30 November is 00:30 on 1 December in Yekaterinburg
    late = datetime(2026, 11, 30, 19, 30, tzinfo=UTC)
    await store.calls.save(make_call("tz.1", "+79161110000", start=late))
    in_utc = await _summary(url, tokens["200"])
    assert in_utc["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert in_utc["calls"]["total"] == 1
    await store.db.write("INSERT INTO settings (key, value) VALUES ('timezone', 'Asia/Yekaterinburg')")
    in_ekb = await _summary(url, tokens["200"])
    assert in_ekb["period"] == {"from": "2026-12-01", "to": "2026-12-01"}
    assert in_ekb["calls"]["total"] == 1  # the call is on 1 December there
    november = await _summary(url, tokens["200"], **{"from": "2026-11-01", "to": "2026-11-30"})
    assert november["calls"]["total"] == 0

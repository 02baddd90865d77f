"""/healthz and /metrics served by a real aiohttp server, fed by a real AMI client and outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from connector.ami.client import AmiClient
from connector.api.health import HealthSources, Metric, render, setup_health
from connector.sync.outbox import Outbox
from tests.unit.ami.amiserver import AmiServer
from tests.unit.ami.conftest import settings_for


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = await Outbox.open(tmp_path / "outbox.db")
    yield box
    await box.close()


async def get(sources: HealthSources, path: str) -> tuple[int, str]:
    app = web.Application()
    setup_health(app, sources)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{path}") as response,
        ):
            return response.status, await response.text()
    finally:
        await runner.cleanup()


def test_metrics_are_rendered_in_prometheus_text_format() -> None:
    text = render([Metric("ami_events_total", "counter", "events", (({"event": 'a"b'}, 3),))])
    assert text == (
        "# HELP crm_connector_ami_events_total events\n"
        "# TYPE crm_connector_ami_events_total counter\n"
        'crm_connector_ami_events_total{event="a\\"b"} 3\n'
    )


async def test_healthz_is_503_while_ami_is_down(outbox: Outbox) -> None:
    async with AmiServer() as server:
        client = AmiClient(settings_for(server, port=1), lambda event: None)
    sources = HealthSources(stage="running", ami=client, outbox=outbox)
    status, body = await get(sources, "/healthz")
    assert status == 503
    assert '"status": "unhealthy"' in body


async def test_healthz_is_ok_with_ami_connected_and_the_outbox_open(outbox: Outbox) -> None:
    async with AmiServer() as server:
        client = AmiClient(settings_for(server), lambda event: None)
        client.start()
        await client.wait_connected(5)
        try:
            status, body = await get(HealthSources(stage="running", ami=client, outbox=outbox), "/healthz")
        finally:
            await client.stop()
    assert status == 200
    assert '"status": "ok"' in body


async def test_metrics_report_ami_state_and_reconnects(outbox: Outbox) -> None:
    async with AmiServer() as server:
        client = AmiClient(settings_for(server, ping_interval=60.0), lambda event: None)
        client.start()
        await client.wait_connected(5)
        server.drop()
        await server.wait_logins(2)
        await client.wait_connected(5)
        try:
            status, body = await get(HealthSources(stage="running", ami=client, outbox=outbox), "/metrics")
        finally:
            await client.stop()
    assert status == 200
    assert "crm_connector_ami_connected 1\n" in body
    assert "crm_connector_ami_reconnects_total 1\n" in body

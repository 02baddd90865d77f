"""/healthz and /metrics served by a real aiohttp server, fed by a real AMI client and outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from connector.ami.client import AmiClient
from connector.api.app import create_app
from connector.api.health import HealthSources, Metric, render, setup_health
from connector.api.settings import OpsSettings
from connector.config import HttpSettings
from connector.settings_schema import Secret
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
        'crm_connector_ami_events_total{event="a\\"b"} 3.0\n'
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
    assert "crm_connector_ami_connected 1.0\n" in body
    assert "crm_connector_ami_reconnects_total 1.0\n" in body


async def _ops_get(settings: HttpSettings, path: str, headers: dict[str, str] | None = None) -> int:
    app = create_app(settings)
    setup_health(app, HealthSources(stage="running"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{path}"
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as response:
            return response.status
    finally:
        await runner.cleanup()


OPS_TOKEN = "ops-token-0123456789-abcdef"


async def test_health_and_metrics_answer_this_host_by_default() -> None:
    assert [await _ops_get(HttpSettings(), p) for p in ("/healthz", "/metrics")] == [503, 200]


async def test_behind_a_proxy_health_and_metrics_need_the_ops_token() -> None:
    settings = HttpSettings(ops=OpsSettings(token=Secret(OPS_TOKEN), allow_loopback=False))
    assert [await _ops_get(settings, p) for p in ("/healthz", "/metrics")] == [403, 403]
    wrong = {"Authorization": "Bearer ops-token-0123456789-abcdeX"}
    assert await _ops_get(settings, "/metrics", wrong) == 403
    right = {"Authorization": f"Bearer {OPS_TOKEN}"}
    assert [await _ops_get(settings, p, right) for p in ("/healthz", "/metrics")] == [503, 200]


def _request_from(peer: str, sockname: str) -> web.Request:
    from unittest.mock import Mock

    from aiohttp.test_utils import make_mocked_request

    transport = Mock()
    transport.get_extra_info = lambda name, default=None: {
        "peername": (peer, 50000),
        "sockname": (sockname, 8088),
    }.get(name, default)
    return make_mocked_request("GET", "/metrics", transport=transport)


def test_a_caller_from_another_machine_is_refused_without_the_token() -> None:
    from connector.api import ops

    assert not ops.allowed(_request_from("192.168.1.50", "192.168.1.10"), OpsSettings())
    assert ops.allowed(_request_from("192.168.1.10", "192.168.1.10"), OpsSettings())  # `check` on the host
    assert ops.allowed(_request_from("::1", "::1"), OpsSettings())

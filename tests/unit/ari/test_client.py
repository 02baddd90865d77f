"""The ARI client against an HTTP fake that behaves like Asterisk's ARI (Basic auth, 401 with
a JSON message, /channels and /bridges lists, the /events WebSocket): resync after connect,
events in order, a silent socket noticed by its ping watchdog and reconnected, a wrong password
reported, REST refusals and timeouts mapped to errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from connector.ami.client import ChannelSnapshot
from connector.ari.client import AriClient, AriConnectionError, AriRequestError, basic_auth
from connector.ari.settings import AriSettings
from connector.settings_schema import Secret

USER, PASSWORD = "crm", "pa55word"
CHANNELS = [
    {
        "id": "m-100.1",
        "name": "PJSIP/trunk-1",
        "state": "Up",
        "caller": {"number": "+79161110001"},
        "dialplan": {"context": "in", "exten": "74951110001"},
        "creationtime": "2026-12-05T09:00:00.000+0000",
    },
    {
        "id": "m-100.2",
        "name": "PJSIP/201-2",
        "state": "Up",
        "caller": {"number": "201"},
        "dialplan": {},
        "creationtime": "2026-12-05T09:00:01.000+0000",
    },
]
BRIDGES = [{"id": "b-1", "channels": ["m-100.2", "m-100.1"]}]


@dataclass
class FakeAri:
    """Asterisk's ARI as far as the client uses it; `silent` stops answering pings."""

    silent: bool = False
    sockets: int = 0
    apps: list[str] = field(default_factory=list)
    slow: float = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ari/channels", self.channels)
        app.router.add_get("/ari/bridges", self.bridges)
        app.router.add_get("/ari/events", self.events)
        app.router.add_delete("/ari/channels/{id}", self.hangup)
        return app

    def authorised(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != basic_auth(USER, PASSWORD):
            raise web.HTTPUnauthorized(text=json.dumps({"message": "Authentication required"}))

    async def channels(self, request: web.Request) -> web.Response:
        self.authorised(request)
        await asyncio.sleep(self.slow)
        return web.json_response(CHANNELS)

    async def bridges(self, request: web.Request) -> web.Response:
        self.authorised(request)
        return web.json_response(BRIDGES)

    async def hangup(self, request: web.Request) -> web.Response:
        self.authorised(request)
        raise web.HTTPNotFound(text=json.dumps({"message": "Channel not found"}))

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        self.authorised(request)
        self.sockets += 1
        self.apps.append(request.query["app"])
        ws = web.WebSocketResponse(autoping=not self.silent)
        await ws.prepare(request)
        for n in range(3):
            await ws.send_str(
                json.dumps({"type": "ChannelVarset", "variable": f"V{n}", "channel": CHANNELS[0]})
            )
        async for message in ws:
            if message.type is WSMsgType.CLOSE:
                break
        return ws


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAri, str]]:
    ari = FakeAri()
    runner = web.AppRunner(ari.app(), shutdown_timeout=1.0)  # a socket cut mid-close waits no longer
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield ari, f"http://127.0.0.1:{port}/ari"
    await runner.cleanup()


def settings(url: str, password: str = PASSWORD, **changes: Any) -> AriSettings:
    fast = {"ping_interval": 0.3, "ping_timeout": 0.3, "reconnect_min": 0.05, "reconnect_max": 0.1}
    return AriSettings(url=url, username=USER, password=Secret(password), events="ari", **{**fast, **changes})


async def until(condition: Any, tries: int = 500) -> None:
    """Wait (at most `tries` x 20 ms) until `condition()` holds."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def test_resync_then_events_in_order(fake: tuple[FakeAri, str]) -> None:
    _, url = fake
    events: list[Any] = []
    snapshots: list[ChannelSnapshot] = []

    async def on_session(snapshot: ChannelSnapshot) -> None:
        snapshots.append(snapshot)

    client = AriClient(settings(url), events.append, on_session=on_session)
    client.start()
    try:
        await until(lambda: len(events) == 3)
    finally:
        await client.stop()
    assert [e["variable"] for e in events] == ["V0", "V1", "V2"]
    (snap,) = snapshots
    assert snap.first and snap.alive == {"m-100.1", "m-100.2"}
    items = {i["Uniqueid"]: (i["Linkedid"], i["BridgeId"], i["ChannelStateDesc"]) for i in snap.channels}
    assert items == {"m-100.1": ("m-100.1", "b-1", "Up"), "m-100.2": ("m-100.1", "b-1", "Up")}


async def test_silent_socket_is_noticed_and_reconnected_under_a_new_app_name(
    fake: tuple[FakeAri, str],
) -> None:
    ari, url = fake
    ari.silent = True
    client = AriClient(settings(url), lambda e: None)
    client.start()
    try:
        await until(lambda: client.status.reconnects >= 1)
    finally:
        await client.stop()
    # The fake never closes the socket: only the ping watchdog can have ended the first one.
    assert ari.sockets >= 2 and len(set(ari.apps)) == len(ari.apps)


async def test_wrong_password_is_reported(fake: tuple[FakeAri, str]) -> None:
    _, url = fake
    client = AriClient(settings(url, "wrong"), lambda e: None)
    client.start()
    try:
        await until(lambda: client.status.auth_failed)
    finally:
        await client.stop()
    assert not client.connected and "ari.password" in client.status.last_error


async def test_rest_refusals_and_timeouts_are_errors(fake: tuple[FakeAri, str]) -> None:
    ari, url = fake
    client = AriClient(settings(url, request_timeout=0.2), lambda e: None)
    client.start()
    try:
        with pytest.raises(AriRequestError, match="404 Channel not found") as refused:
            await client.request("DELETE", "/channels/nope")
        assert refused.value.status == 404
        await client.wait_connected(5)  # the resync is done: only the request below is slow
        ari.slow = 1.0
        with pytest.raises(AriConnectionError, match="no answer from ARI in time"):
            await client.request("GET", "/channels")
    finally:
        await client.stop()
    with pytest.raises(AriConnectionError, match="not started"):
        await client.request("GET", "/channels")

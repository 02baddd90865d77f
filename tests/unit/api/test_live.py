"""Live events: the bounded hub and the WebSocket for screen pop."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from connector.api import live
from connector.api.app import AUTH_KEY, HUB_KEY, SETTINGS_KEY, create_app
from connector.api.auth import COOKIE, Principal
from connector.api.live import LiveHub
from connector.api.settings import LiveSettings
from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.config import ApiToken, HttpSettings
from connector.settings_schema import Secret
from tests.unit.api.conftest import ServeApp

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def event(call_id: str, exten: str | None = "202", kind: LiveKind = LiveKind.RINGING) -> LiveEvent:
    return LiveEvent(kind, call_id, AT, Direction.INBOUND, "+79161234567", exten=exten, did="74951110001")


async def test_a_slow_subscriber_keeps_only_the_newest_events() -> None:
    hub = LiveHub(maxsize=3)
    async with hub.subscribe() as sub:
        for i in range(5):
            hub.publish(event(str(i)))
        got = [(await sub.get()) for _ in range(3)]
    assert [e.call_id for e in got if e] == ["2", "3", "4"] and sub.dropped == 2


async def test_a_subscription_ends_when_its_block_exits() -> None:
    hub = LiveHub()
    async with hub.subscribe():
        assert hub.subscribers == 1
    assert hub.subscribers == 0


async def test_closing_the_hub_ends_every_stream() -> None:
    hub = LiveHub()
    async with hub.subscribe() as sub:
        hub.close()
        assert await sub.get() is None


def _app() -> web.Application:
    tokens = (
        ApiToken("phone-202", Secret("tok-202-abcd-0123456789"), ("202",), "service"),
        ApiToken("all", Secret("tok-all-abcd-0123456789"), ("*",), "service"),
    )
    app = create_app(HttpSettings(tokens=tokens))

    async def enrich(ev: LiveEvent, principal: Principal) -> dict[str, Any]:
        return {"seen_by": principal.name}

    live.setup(app, enrich)
    return app


async def _connect(http: aiohttp.ClientSession, url: str, token: str, query: str = "") -> Any:
    return await http.ws_connect(f"{url}/api/live{query}", headers={"Authorization": f"Bearer {token}"})


async def _subscribed(app: web.Application, count: int) -> None:
    # The handler subscribes right after the handshake: wait for the hub to say so.
    await app[HUB_KEY].wait_for_subscribers(count)


async def test_the_socket_streams_events_of_the_callers_extension(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    app = _app()
    url = await serve(app)
    ws = await _connect(http, url, "tok-202-abcd-0123456789")
    await _subscribed(app, 1)
    app[HUB_KEY].publish(event("other", exten="203"))
    app[HUB_KEY].publish(event("mine", exten="202"))
    message = json.loads((await ws.receive()).data)
    await ws.close()
    assert message["event"]["call_id"] == "mine" and message["seen_by"] == "phone-202"


async def test_a_stream_hears_the_end_of_the_calls_it_was_told_of_only(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    app = _app()
    url = await serve(app)
    ws = await _connect(http, url, "tok-202-abcd-0123456789")
    await _subscribed(app, 1)
    hub = app[HUB_KEY]
    hub.publish(event("mine", exten="202"))
    hub.publish(event("other", exten="203"))
    hub.publish(event("other", exten=None, kind=LiveKind.ENDED))  # the end names no phone
    hub.publish(event("mine", exten=None, kind=LiveKind.ENDED))
    hub.publish(event("mine", exten=None, kind=LiveKind.ENDED))  # told once
    hub.publish(event("last", exten="202"))
    heard = [json.loads((await ws.receive()).data)["event"] for _ in range(3)]
    await ws.close()
    assert [(e["call_id"], e["kind"]) for e in heard] == [
        ("mine", "ringing"),
        ("mine", "ended"),
        ("last", "ringing"),
    ]


async def test_following_another_extension_is_forbidden(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(
        f"{url}/api/live?exten=203", headers={"Authorization": "Bearer tok-202-abcd-0123456789"}
    ) as r:
        assert r.status == 403


async def test_the_socket_needs_a_token(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/live") as r:
        assert r.status == 401


async def test_closing_the_hub_closes_the_socket(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    app = _app()
    url = await serve(app)
    ws = await _connect(http, url, "tok-all-abcd-0123456789", "?exten=205")
    await _subscribed(app, 1)
    app[HUB_KEY].close()
    message = await ws.receive()
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_stopping_the_server_ends_open_streams(http: aiohttp.ClientSession) -> None:
    app = _app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    ws = await _connect(http, url, "tok-all-abcd-0123456789")
    await _subscribed(app, 1)
    await runner.cleanup()
    message = await ws.receive()
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and app[HUB_KEY].closed


async def test_a_page_of_another_site_may_not_open_the_stream(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_app())
    headers = {"Authorization": "Bearer tok-202-abcd-0123456789", "Origin": "https://evil.example"}
    async with http.get(f"{url}/api/live", headers=headers) as r:
        assert r.status == 403 and "another site" in (await r.json())["detail"]
    ws = await http.ws_connect(f"{url}/api/live", headers={**headers, "Origin": url})
    await ws.close()


async def test_an_allowed_origin_from_the_config_may_open_the_stream(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    app = _app()
    app[SETTINGS_KEY] = dataclasses.replace(
        app[SETTINGS_KEY], live=LiveSettings(allowed_origins=("https://crm.example.ru",))
    )
    url = await serve(app)
    headers = {"Authorization": "Bearer tok-202-abcd-0123456789", "Origin": "https://crm.example.ru"}
    ws = await http.ws_connect(f"{url}/api/live", headers=headers)
    await ws.close()


async def test_one_session_holds_a_bounded_number_of_streams(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    app = _app()
    app[SETTINGS_KEY] = dataclasses.replace(app[SETTINGS_KEY], live=LiveSettings(max_per_session=3))
    url = await serve(app)
    streams = [await _connect(http, url, "tok-202-abcd-0123456789") for _ in range(3)]
    async with http.get(f"{url}/api/live", headers={"Authorization": "Bearer tok-202-abcd-0123456789"}) as r:
        assert r.status == 429
    await streams[0].close()
    await _subscribed_exactly(app, 2)
    streams[0] = await _connect(http, url, "tok-202-abcd-0123456789")  # a slot came free
    for ws in streams:
        await ws.close()


async def _subscribed_exactly(app: web.Application, count: int) -> None:
    import asyncio

    async with asyncio.timeout(10):  # an upper bound for a broken build, not a timing assertion
        await app[HUB_KEY].wait_for_exactly(count)


async def test_a_stream_ends_when_its_session_does(
    serve: ServeApp, http: aiohttp.ClientSession, monkeypatch: Any
) -> None:
    monkeypatch.setattr(live, "SESSION_RECHECK", 0.05)
    alive = {"sess-1": True}

    async def sessions(session_id: str) -> Principal | None:
        if not alive.get(session_id):
            return None
        return Principal("Егор", "employee", ("202",), employee_id=3, session="s1", csrf="x")

    app = _app()
    app[AUTH_KEY].set_people(None, sessions)
    url = await serve(app)
    ws = await http.ws_connect(f"{url}/api/live", headers={"Cookie": f"{COOKIE}=sess-1"})
    await _subscribed(app, 1)
    alive["sess-1"] = False  # signed out in another tab
    message = await ws.receive(timeout=10)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

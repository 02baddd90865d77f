"""The call panel's live side: presence from live events, who gets which pop-up, and the WebSocket's
guards (origin, token as the first message, the subscriber cap). Real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from adapters.amocrm import widget_live
from adapters.amocrm.settings import WidgetSettings
from adapters.amocrm.users import UserMap
from adapters.amocrm.widget import create_widget_app
from adapters.amocrm.widget_live import Presence, WidgetFeed, WidgetLive
from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.crm import Contact
from connector.errors import TransientError
from connector.settings_schema import Secret

TOKEN = "widget-live-token-0123456789"
ORIGIN = "https://example.amocrm.ru"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def event(kind: LiveKind, exten: str | None, call: str = "c1", **extra: Any) -> LiveEvent:
    return LiveEvent(kind, call, NOW, Direction.INBOUND, "+79161230001", exten=exten, **extra)


# ------------------------------------------------------------------ presence


def test_presence_follows_ring_answer_and_end() -> None:
    presence = Presence()
    seen = []
    for ev in (
        event(LiveKind.RINGING, "201"),
        event(LiveKind.RINGING, "202"),
        event(LiveKind.ANSWERED, "202"),
        event(LiveKind.ENDED, None),
    ):
        presence.apply(ev)
        seen.append(presence.snapshot())
    assert seen == [{"201": "ringing"}, {"201": "ringing", "202": "ringing"}, {"202": "talking"}, {}]


def test_a_transfer_moves_the_talk_to_the_target() -> None:
    presence = Presence()
    presence.apply(event(LiveKind.ANSWERED, "201"))
    presence.apply(event(LiveKind.TRANSFERRED, "203", from_exten="201"))
    assert presence.snapshot() == {"203": "talking"}


def test_after_an_attended_transfer_only_the_target_talks() -> None:
    presence = Presence()
    presence.apply(event(LiveKind.ANSWERED, "201"))
    presence.apply(event(LiveKind.RINGING, "203"))  # the consultation rings
    presence.apply(event(LiveKind.ANSWERED, "203"))  # 201 hung up: the client is with 203
    assert presence.snapshot() == {"203": "talking"}


def test_talking_wins_over_ringing_in_another_call() -> None:
    presence = Presence()
    presence.apply(event(LiveKind.ANSWERED, "201", call="a"))
    presence.apply(event(LiveKind.RINGING, "201", call="b"))
    assert presence.snapshot() == {"201": "talking"}


def test_presence_forgets_the_oldest_call_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widget_live, "MAX_CALLS", 2)
    presence = Presence()
    for n in range(3):
        presence.apply(event(LiveKind.RINGING, f"20{n}", call=f"c{n}"))
    assert presence.snapshot() == {"201": "ringing", "202": "ringing"}


# ------------------------------------------------------------------ who gets what


async def _drain(queue: asyncio.Queue[dict[str, Any] | None]) -> list[str]:
    kinds = []
    while not queue.empty():
        message = queue.get_nowait()
        assert message is not None
        kinds.append(message["type"] + ":" + message.get("event", {}).get("kind", ""))
    return kinds


async def test_the_pop_up_goes_only_to_the_employee_concerned_and_follows_the_call_to_its_end() -> None:
    feed = WidgetFeed()
    async with feed.subscribe("201") as mine, feed.subscribe("202") as other:
        feed.publish(event(LiveKind.RINGING, "201"))
        feed.publish(event(LiveKind.ANSWERED, "203"))  # a colleague picked it up
        feed.publish(event(LiveKind.ENDED, None))
        assert (await _drain(mine.queue), await _drain(other.queue)) == (
            ["call:ringing", "call:answered", "call:ended"],
            ["presence:", "presence:", "presence:"],
        )


async def test_a_slow_panel_loses_its_oldest_messages_not_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widget_live, "QUEUE", 3)
    feed = WidgetFeed()
    async with feed.subscribe("201") as sub:
        for n in range(5):
            feed.publish(event(LiveKind.RINGING, "201", call=f"c{n}"))
        ids = [sub.queue.get_nowait()["event"]["call_id"] for _ in range(sub.queue.qsize())]  # type: ignore[index]
    assert ids == ["c2", "c3", "c4"]


async def test_the_caller_is_looked_up_once_per_call_and_a_failed_lookup_is_tried_again() -> None:
    answers: list[Contact | Exception | None] = [TransientError("amoCRM is down"), _anna()]
    asked = []

    async def lookup(phone: str) -> Contact | None:
        asked.append(phone)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    live = WidgetLive(lookup, clock=NOW.timestamp)
    async with live.feed.subscribe("201") as sub:
        for kind in (LiveKind.RINGING, LiveKind.RINGING, LiveKind.ANSWERED):
            await live.on_live(event(kind, "201"))
        callers = [sub.queue.get_nowait()["caller"] for _ in range(3)]  # type: ignore[index]
    assert (len(asked), [c.get("name") for c in callers]) == (2, [None, "Анна", "Анна"])


async def test_an_event_replayed_long_after_the_call_pops_nothing_up() -> None:
    async def lookup(phone: str) -> Contact | None:
        raise AssertionError("a stale event needs no lookup")

    live = WidgetLive(lookup, clock=lambda: NOW.timestamp() + 3600)
    async with live.feed.subscribe("201") as sub:
        await live.on_live(event(LiveKind.RINGING, "201"))
        assert (sub.queue.qsize(), live.feed.presence.snapshot()) == (0, {"201": "ringing"})


def _anna() -> Contact:
    return Contact(id="7", name="Анна", url="https://example.amocrm.ru/contacts/detail/7")


# ------------------------------------------------------------------ the socket


@pytest.fixture
async def socket_url() -> AsyncIterator[tuple[str, WidgetFeed]]:
    feed = WidgetFeed()
    settings = WidgetSettings(enabled=True, token=Secret(TOKEN), allowed_origins=(ORIGIN,))
    users = UserMap({"201": "555"}, 600)
    root = web.Application()
    employees = [{"extension": "201", "user_id": 555, "name": "Иван"}]
    root.add_subapp(
        "/amocrm/widget/", create_widget_app(settings, users, None, feed=feed, employees=lambda: employees)
    )
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/amocrm/widget/live", feed
    finally:
        await runner.cleanup()


async def test_the_socket_greets_then_streams_this_employees_calls(
    socket_url: tuple[str, WidgetFeed],
) -> None:
    url, feed = socket_url
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers={"Origin": ORIGIN}) as ws:
        await ws.send_str(json.dumps({"token": TOKEN, "user_id": "555"}))
        hello = await ws.receive_json(timeout=5)
        feed.publish(event(LiveKind.RINGING, "201"))
        call = await ws.receive_json(timeout=5)
    assert (hello["extension"], hello["employees"][0]["name"], call["event"]["kind"], call["presence"]) == (
        "201",
        "Иван",
        "ringing",
        {"201": "ringing"},
    )


async def test_a_wrong_token_closes_the_socket_with_4401(socket_url: tuple[str, WidgetFeed]) -> None:
    url, feed = socket_url
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers={"Origin": ORIGIN}) as ws:
        await ws.send_str(json.dumps({"token": "guess", "user_id": "555"}))
        msg = await ws.receive(timeout=5)
    assert (msg.type, ws.close_code, feed.subscribers) == (WSMsgType.CLOSE, 4401, 0)


async def test_another_sites_page_cannot_open_the_socket(socket_url: tuple[str, WidgetFeed]) -> None:
    url, _ = socket_url
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_past_the_cap_a_new_panel_is_asked_to_come_back_later(
    socket_url: tuple[str, WidgetFeed], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = socket_url
    monkeypatch.setattr(widget_live, "MAX_SUBSCRIBERS", 0)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers={"Origin": ORIGIN})
    assert refused.value.status == 503

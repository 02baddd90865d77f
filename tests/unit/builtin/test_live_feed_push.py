"""The company's live feed pushed over /api/live (seed 003 «Живая лента»): what, to whom, once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.builtin.activity_watch import BATCH, ActivityWatch
from adapters.builtin.store import Store
from connector.api.auth import Principal
from connector.api.live import Broadcast
from tests.unit.builtin.helpers import SERVICE_TOKEN, CrmServer, make_call

WAIT = 10.0  # seconds a pushed item may take before the test gives up (no timing is asserted)


async def _sockets(http: aiohttp.ClientSession, server: CrmServer, *tokens: str) -> list[Any]:
    """Open streams (one per token) and wait until the hub has them all."""
    sockets = [
        await http.ws_connect(f"{server.url}/api/live", headers={"Authorization": f"Bearer {token}"})
        for token in tokens
    ]
    async with asyncio.timeout(WAIT):
        await server.hub.wait_for_subscribers(len(tokens))
    return sockets


async def _activity(ws: Any, until: str) -> list[dict[str, Any]]:
    """Pushed feed items, in order, up to and including the one whose text contains `until`."""
    items: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads((await ws.receive()).data)
            if "activity" in message:
                items.append(message["activity"])
                if until in str(message["activity"]["text"]):
                    return items


async def test_changes_and_calls_are_pushed_as_they_happen_employees_hear_only_their_calls(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    admin, employee, phone_token = await _sockets(
        http, server, server.tokens["200"], server.tokens["202"], SERVICE_TOKEN
    )
    client = await server.store.clients.create("Клиент", ["+79160000001"])
    pipeline = (await server.store.deals.pipelines())[0]
    headers = server.headers("203")
    base = f"{server.url}/api/crm"
    body = {"title": "Поставка", "pipeline_id": pipeline["id"], "client_id": client}
    async with http.post(f"{base}/deals", json=body, headers=headers) as r:
        deal = await r.json()
    async with http.patch(f"{base}/deals/{deal['id']}", json={"stage": "Счёт"}, headers=headers):
        pass
    async with http.post(f"{base}/clients/{client}/comments", json={"text": "Договорились"}, headers=headers):
        pass
    now = datetime.now(UTC)
    await server.adapter.log_call(
        make_call("7.1", "+79160000001", start=now, answered_by="203", rang=("203",))
    )
    await server.adapter.log_call(
        make_call("7.2", "+79160000001", start=now, answered_by="202", rang=("202",))
    )
    await server.adapter.log_call(
        make_call("7.2", "+79160000001", start=now, answered_by="202", rang=("202",))
    )
    async with http.post(f"{base}/clients/{client}/comments", json={"text": "Конец"}, headers=headers):
        pass

    heard = await _activity(admin, "Конец")
    texts = [i["text"] for i in heard]
    others = [t for i, t in zip(heard, texts, strict=True) if i["kind"] != "call"]
    assert others == ["Новая сделка «Поставка»", "Сделка «Поставка»: Новая → Счёт", "Договорились", "Конец"]
    comment = heard[texts.index("Договорились")]
    assert (comment["who"], comment["client_id"], comment["client_name"]) == (
        "Ева Сотрудник",
        client,
        "Клиент",
    )
    # each call once, though 7.2 was delivered twice (a redelivery updates the row it filed)
    assert [i["who"] for i in heard if i["kind"] == "call"] == ["203", "202"]
    mine = await _activity(employee, "Конец")
    assert [i["who"] for i in mine if i["kind"] == "call"] == ["202"]  # never 203's call
    assert [i["text"] for i in mine if i["kind"] != "call"] == others
    for ws in (admin, employee, phone_token):
        await ws.close()


def test_a_broadcast_reaches_people_within_their_scope_never_a_phones_token() -> None:
    call = Broadcast("activity", {"kind": "call"}, ("203",))
    news = Broadcast("activity", {"kind": "comment"})
    egor = Principal("Егор", "employee", ("202",), employee_id=3)
    anna = Principal("Анна", "admin", ("200",), employee_id=1)
    phone = Principal("widget", "service", ("*",))
    assert [call.visible_to(p) for p in (egor, anna, phone)] == [False, True, False]
    assert [news.visible_to(p) for p in (egor, anna, phone)] == [True, True, False]


async def test_a_row_written_past_the_api_is_pushed_once_and_a_flood_only_its_newest(store: Store) -> None:
    pushed: list[Broadcast] = []
    watch = ActivityWatch(store.db, store.changes, pushed.append)
    client = await store.clients.create("Клиент", ["+79160000001"])
    await store.notes.add_comment(client, "было до запуска", None)
    assert await watch.catch_up() == 0  # the first look notes where each source stands
    await store.notes.add_comment(client, "написано импортом", None)
    assert await watch.catch_up() == 1 and await watch.catch_up() == 0
    assert pushed[0].topic == "activity" and pushed[0].payload["text"] == "написано импортом"
    for n in range(BATCH + 50):
        await store.notes.add_comment(client, f"строка {n}", None)
    assert await watch.catch_up() == BATCH
    assert pushed[1].payload["text"] == "строка 50" and pushed[-1].payload["text"] == f"строка {BATCH + 49}"

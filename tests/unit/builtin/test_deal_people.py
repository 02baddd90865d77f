"""A deal's people (seed 003): participants see and work on it, leave it, and hear of it unless muted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.unit.builtin.helpers import CrmServer

WAIT = 10.0  # seconds a notice may take before the test gives up (no timing is asserted)


async def _call(
    http: aiohttp.ClientSession, server: CrmServer, method: str, path: str, body: Any = None, *, ext: str
) -> tuple[int, Any]:
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def _eva_deal(server: CrmServer) -> dict[str, Any]:
    """A deal of Ева (203) on a client of hers."""
    eva = await server.store.employees.by_extension("203")
    assert eva is not None
    client = await server.store.clients.create("Клиент Евы", ["+79160000031"], responsible_id=eva["id"])
    pipeline = (await server.store.deals.pipelines())[0]
    return await server.store.deals.create(
        {
            "title": "Оборудование",
            "pipeline_id": pipeline["id"],
            "client_id": client,
            "responsible_id": eva["id"],
        }
    )


async def test_a_participant_sees_and_moves_the_deal_until_they_leave_it(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    deal = await _eva_deal(server)
    egor = await server.store.employees.by_extension("202")
    assert egor is not None
    path = f"/deals/{deal['id']}"
    assert (await _call(http, server, "GET", path, ext="202"))[0] == 403  # an employee sees their own deals
    status, _ = await _call(
        http, server, "POST", f"{path}/participants", {"employee_id": egor["id"]}, ext="202"
    )
    assert status == 403  # nor may they join one by themselves
    status, shown = await _call(
        http, server, "POST", f"{path}/participants", {"employee_id": egor["id"]}, ext="203"
    )
    assert status == 201
    assert [(p["name"], p["leader"]) for p in shown["people"]] == [
        ("Ева Сотрудник", True),
        ("Егор Сотрудник", False),
    ]
    status, _ = await _call(
        http, server, "POST", f"{path}/participants", {"employee_id": egor["id"]}, ext="203"
    )
    assert status == 409
    _, listed = await _call(http, server, "GET", "/deals", ext="202")
    assert [d["id"] for d in listed["items"]] == [deal["id"]]
    _, board = await _call(http, server, "GET", "/board", ext="202")
    assert [d["id"] for s in board["stages"] for d in s["deals"]] == [deal["id"]]
    status, moved = await _call(http, server, "PATCH", path, {"stage": "Счёт"}, ext="202")
    assert (status, moved["stage"]) == (200, "Счёт")
    status, left = await _call(http, server, "DELETE", f"{path}/participants/{egor['id']}", ext="202")
    assert status == 200 and [p["name"] for p in left["people"]] == ["Ева Сотрудник"]
    assert (await _call(http, server, "GET", path, ext="202"))[0] == 403
    _, card = await _call(http, server, "GET", path, ext="203")
    history = [(e["text"], e["who"]) for e in card["history"][1:]]
    assert history == [
        ("Сделка «Оборудование»: участник Егор Сотрудник", "Ева Сотрудник"),
        ("Сделка «Оборудование»: Новая → Счёт", "Егор Сотрудник"),
        ("Сделка «Оборудование»: Егор Сотрудник покидает сделку", "Егор Сотрудник"),
    ]


async def _moves(ws: Any, count: int) -> list[str]:
    """The texts of the next `count` notices of stage moves on a stream (other messages skipped:
    feed items, and Егор may still hear he was added if the socket opened before that went out)."""
    texts: list[str] = []
    async with asyncio.timeout(WAIT):
        while len(texts) < count:
            message = json.loads((await ws.receive()).data)
            if "notice" in message and "→" in message["notice"]["text"]:
                texts.append(message["notice"]["text"])
    return texts


async def test_the_deals_people_hear_of_its_changes_unless_muted_never_of_their_own(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    deal = await _eva_deal(server)
    egor = await server.store.employees.by_extension("202")
    assert egor is not None
    path = f"/deals/{deal['id']}"
    await _call(http, server, "POST", f"{path}/participants", {"employee_id": egor["id"]}, ext="203")
    sockets = [
        await http.ws_connect(f"{server.url}/api/live", headers=server.headers(ext)) for ext in ("203", "202")
    ]
    async with asyncio.timeout(WAIT):
        await server.hub.wait_for_subscribers(2)
    eva_ws, egor_ws = sockets
    await _call(http, server, "PATCH", path, {"stage": "Квалификация"}, ext="201")  # the manager moves it
    status, _ = await _call(http, server, "PATCH", f"{path}/notifications", {"muted": True}, ext="203")
    assert status == 200
    await _call(http, server, "PATCH", path, {"stage": "Предложение"}, ext="201")
    await _call(http, server, "PATCH", f"{path}/notifications", {"muted": False}, ext="203")
    await _call(http, server, "PATCH", path, {"stage": "Счёт"}, ext="202")  # Егор: Ева hears, he does not
    await _call(http, server, "PATCH", path, {"stage": "Оплата"}, ext="201")
    eva = await _moves(eva_ws, 3)
    egor_heard = await _moves(egor_ws, 3)
    assert eva == [
        "Сделка «Оборудование»: Новая → Квалификация",
        "Сделка «Оборудование»: Предложение → Счёт",  # not the move made while she had muted it
        "Сделка «Оборудование»: Счёт → Оплата",
    ]
    assert egor_heard == [
        "Сделка «Оборудование»: Новая → Квалификация",
        "Сделка «Оборудование»: Квалификация → Предложение",
        "Сделка «Оборудование»: Счёт → Оплата",  # not his own move
    ]
    status, _ = await _call(http, server, "PATCH", f"{path}/notifications", {"muted": True}, ext="201")
    assert status == 409  # the manager sees the deal but does not work on it
    for ws in sockets:
        await ws.close()

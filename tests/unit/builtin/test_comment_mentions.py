"""@mentions in a card's comments (seed 001 §3, seed 003 §2.13): the colleague is told at once over
/api/live, and the comment stays among their alerts until they mark it read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.unit.builtin.helpers import CrmServer, ask

WAIT = 10.0  # seconds a notice may take before the test gives up (no timing is asserted)


async def _mention_notices(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next `count` mention notices on a stream (feed items and other notices skipped)."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while len(found) < count:
            message = json.loads((await ws.receive()).data)
            if message.get("notice", {}).get("kind") == "mention":
                found.append(message["notice"])
    return found


async def test_a_mentioned_colleague_is_told_at_once_and_keeps_it_until_read(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client = await server.store.clients.create("Вера Клиентова", ["+79160000041"])
    eva = await server.store.employees.by_extension("203")
    assert eva is not None
    eva_ws = await http.ws_connect(f"{server.url}/api/live", headers=server.headers("203"))
    async with asyncio.timeout(WAIT):
        await server.hub.wait_for_subscribers(1)
    text = "@ева сотрудник, клиент просит счёт; @Егор Сотрудник в курсе, @Евгений — нет такого"
    status, saved = await ask(http, server, "POST", f"/clients/{client}/comments", "202", body={"text": text})
    assert status == 201
    assert saved["mentions"] == [eva["id"]]  # Егор wrote it: he is not told of his own comment
    [notice] = await _mention_notices(eva_ws, 1)
    assert notice["comment_id"] == saved["id"] and notice["client_id"] == client
    assert (notice["who"], notice["client_name"], notice["text"]) == (
        "Егор Сотрудник",
        "Вера Клиентова",
        text,
    )
    await eva_ws.close()

    _, alerts = await ask(http, server, "GET", "/alerts", "203")
    assert alerts["count"] == 1
    [due] = alerts["due"]
    assert (due["kind"], due["id"], due["who"], due["client_id"]) == (
        "mention",
        saved["id"],
        "Егор Сотрудник",
        client,
    )
    _, others = await ask(http, server, "GET", "/alerts", "202")
    assert others["count"] == 0
    status, _ = await ask(http, server, "POST", f"/mentions/{saved['id']}/seen", "202")
    assert status == 404  # Егор is not mentioned there: nothing of Ева's changes
    status, _ = await ask(http, server, "POST", f"/mentions/{saved['id']}/seen", "203")
    assert status == 200
    _, after = await ask(http, server, "GET", "/alerts", "203")
    assert after["count"] == 0 and after["due"] == []


async def test_a_mention_by_login_of_a_deactivated_employee_tells_nobody(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client = await server.store.clients.create("Вера", ["+79160000042"])
    mark = await server.store.employees.by_extension("201")
    eva = await server.store.employees.by_extension("203")
    assert mark is not None and eva is not None
    await server.store.db.write("UPDATE employees SET active = 0 WHERE id = ?", (eva["id"],))
    _, saved = await ask(
        http, server, "POST", f"/clients/{client}/comments", "202", body={"text": "@mark глянь, @eva тоже"}
    )
    assert saved["mentions"] == [mark["id"]]
    rows = await server.store.db.fetch_all("SELECT employee_id, seen FROM comment_mentions")
    assert rows == [{"employee_id": mark["id"], "seen": 0}]
    _, plain = await ask(
        http, server, "POST", f"/clients/{client}/comments", "202", body={"text": "почта a@mark.ru"}
    )
    assert plain["mentions"] == []

"""Pipelines edited from the deals board (seed 003 «Настройки воронки»): stages, moves, deletion."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from tests.unit.builtin.helpers import CrmServer


async def _call(
    http: aiohttp.ClientSession,
    server: CrmServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    ext: str = "201",
) -> tuple[int, Any]:
    """As the manager at 201 unless `ext` says otherwise."""
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def test_a_new_pipeline_has_the_manuals_three_stages_renamed_and_added_to(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, made = await _call(http, server, "POST", "/pipelines", {"name": "Тендеры"})
    assert status == 201 and made["stages"] == ["Первый контакт", "В работе", "Платеж"]
    pid = made["id"]
    deal = await server.store.deals.create({"title": "Госзакупка", "pipeline_id": pid, "stage": "В работе"})
    status, renamed = await _call(
        http, server, "PATCH", f"/pipelines/{pid}/stages", {"from": "В работе", "to": "Переговоры"}
    )
    assert status == 200 and renamed["stages"] == ["Первый контакт", "Переговоры", "Платеж"]
    assert (await server.store.deals.get(deal["id"]))["stage"] == "Переговоры"  # the deal follows its stage
    status, added = await _call(http, server, "POST", f"/pipelines/{pid}/stages", {"name": "Подписание"})
    assert status == 201 and added["stages"][-1] == "Подписание"
    order = ["Первый контакт", "Переговоры", "Подписание", "Платеж"]
    status, reordered = await _call(
        http, server, "PATCH", f"/pipelines/{pid}", {"name": "Тендеры 2027", "order": order}
    )
    assert status == 200 and (reordered["name"], reordered["stages"]) == ("Тендеры 2027", order)
    _, board = await _call(http, server, "GET", f"/board?pipeline_id={pid}")
    assert [s["name"] for s in board["stages"]] == order
    assert [d["title"] for d in board["stages"][1]["deals"]] == ["Госзакупка"]


async def test_pipeline_rules_are_answered_field_by_field(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    _, made = await _call(
        http, server, "POST", "/pipelines", {"name": "Опт", "stages": [f"Э{n}" for n in range(8)]}
    )
    pid = made["id"]
    cases = [
        ("POST", f"/pipelines/{pid}/stages", {"name": "Девятый"}, "stages"),  # at most eight
        ("POST", "/pipelines", {"name": "Опт"}, "name"),  # names are unique
        ("POST", "/pipelines", {"name": "Х", "stages": ["А", "а"]}, "stages"),  # stage names repeat
        ("POST", "/pipelines", {"name": "  "}, "name"),
        ("PATCH", f"/pipelines/{pid}", {"order": ["Э0"]}, "order"),  # a reorder keeps every stage
        ("PATCH", f"/pipelines/{pid}/stages", {"from": "Нет такого", "to": "А"}, "stage"),
    ]
    for method, path, body, field in cases:
        status, problem = await _call(http, server, method, path, body)
        assert (status, problem["errors"][0]["field"]) == (422, field), (path, body, problem)
    status, _ = await _call(http, server, "POST", "/pipelines", {"name": "Своя"}, ext="202")
    assert status == 403  # employees use pipelines; admins and managers set them up


async def test_a_deal_moves_to_another_pipeline_and_its_history_says_so(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    sales = (await server.store.deals.pipelines())[0]
    _, other = await _call(http, server, "POST", "/pipelines", {"name": "Сервис"})
    deal = await server.store.deals.create({"title": "Ремонт", "pipeline_id": sales["id"]})
    status, problem = await _call(
        http,
        server,
        "PATCH",
        f"/deals/{deal['id']}",
        {"pipeline_id": other["id"], "stage": sales["stages"][1]},
    )
    assert (status, problem["errors"][0]["field"]) == (422, "stage")  # the stage must be of the new pipeline
    status, moved = await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"pipeline_id": other["id"]})
    assert status == 200 and (moved["pipeline_id"], moved["stage"]) == (other["id"], "Первый контакт")
    _, card = await _call(http, server, "GET", f"/deals/{deal['id']}")
    assert (
        card["history"][-1]["text"]
        == f"Сделка «Ремонт» перенесена: {sales['name']} → Сервис, этап Первый контакт"
    )
    assert card["history"][-1]["who"] == "Марк Менеджер"


async def test_only_an_empty_pipeline_or_stage_is_removed_archive_included(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    sales = (await server.store.deals.pipelines())[0]
    _, old = await _call(http, server, "POST", "/pipelines", {"name": "Старая"})
    deal = await server.store.deals.create({"title": "Забытая", "pipeline_id": old["id"]})
    await server.store.deals.update(deal["id"], {"status": "archive"})
    status, problem = await _call(http, server, "DELETE", f"/pipelines/{old['id']}")
    assert status == 409 and "archive included" in problem["detail"]
    status, _ = await _call(
        http, server, "DELETE", f"/pipelines/{old['id']}/stages/{quote('Первый контакт')}"
    )
    assert status == 409  # the archived deal is still on it
    status, left = await _call(http, server, "DELETE", f"/pipelines/{old['id']}/stages/{quote('В работе')}")
    assert status == 200 and left["stages"] == ["Первый контакт", "Платеж"]
    await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"pipeline_id": sales["id"]})
    status, _ = await _call(http, server, "DELETE", f"/pipelines/{old['id']}")
    assert status == 204 and [p["id"] for p in await server.store.deals.pipelines()] == [sales["id"]]
    await server.store.db.write("DELETE FROM deals")
    status, problem = await _call(http, server, "DELETE", f"/pipelines/{sales['id']}")
    assert status == 409 and "only pipeline" in problem["detail"]

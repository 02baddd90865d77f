"""The CRM's clients, companies, deals and tasks API."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.unit.builtin.helpers import CrmServer


async def _call(
    http: aiohttp.ClientSession, server: CrmServer, method: str, path: str, body: Any = None
) -> Any:
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers("202")
    ) as r:
        return r.status, await r.json()


async def test_create_a_client_with_phones_and_find_it_by_number(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, client = await _call(
        http, server, "POST", "/clients", {"name": "Вера", "phones": ["8 916 000-11-22"]}
    )
    assert status == 201 and client["phones"] == ["+79160001122"]
    _, found = await _call(http, server, "GET", "/lookup?phone=79160001122")
    assert found["client"]["id"] == client["id"]


async def test_a_client_with_an_unknown_company_is_refused_and_not_written(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, _ = await _call(http, server, "POST", "/clients", {"name": "Гоша", "company_id": 99})
    assert status == 404
    assert await server.store.db.scalar("SELECT COUNT(*) FROM clients") == 0


async def test_a_bad_phone_is_a_422(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, problem = await _call(http, server, "POST", "/clients", {"name": "Дина", "phones": ["x"]})
    assert status == 422 and problem["errors"][0]["field"] == "phones"


async def test_search_clients_by_phone_digits(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await server.store.clients.create("Зоя", ["+79161112233"])
    await server.store.clients.create("Яков", ["+79164445566"])
    _, data = await _call(http, server, "GET", "/clients?q=4445")
    assert [c["name"] for c in data["items"]] == ["Яков"]


async def test_a_company_with_a_malformed_inn_is_refused(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, _ = await _call(http, server, "POST", "/companies", {"name": "ООО", "inn": "123"})
    assert status == 422 and await server.store.db.scalar("SELECT COUNT(*) FROM companies") == 0


async def test_a_deal_stage_must_belong_to_its_pipeline(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    pipeline = (await server.store.deals.pipelines())[0]
    body = {"title": "Сделка", "pipeline_id": pipeline["id"], "stage": "Нет такой"}
    status, problem = await _call(http, server, "POST", "/deals", body)
    assert status == 422 and problem["errors"][0]["field"] == "stage"


async def test_a_deal_moves_through_stages_and_is_won(server: CrmServer, http: aiohttp.ClientSession) -> None:
    pipeline = (await server.store.deals.pipelines())[0]
    _, deal = await _call(
        http, server, "POST", "/deals", {"title": "Поставка", "pipeline_id": pipeline["id"]}
    )
    await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"stage": pipeline["stages"][2]})
    status, won = await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"status": "won"})
    assert status == 200 and (won["stage"], won["status"]) == (pipeline["stages"][2], "won")


async def test_a_task_is_created_assigned_to_its_author_and_marked_done(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    _, task = await _call(http, server, "POST", "/tasks", {"title": "Отчёт"})
    status, done = await _call(http, server, "PATCH", f"/tasks/{task['id']}", {"done": True})
    me = await server.store.employees.by_extension("202")
    assert me is not None and task["assignee_id"] == me["id"] and status == 200 and done["done"] == 1


async def test_a_reminder_appears_in_the_feed(server: CrmServer, http: aiohttp.ClientSession) -> None:
    client_id = await server.store.clients.create("Кира", ["+79167770000"])
    body = {"remind_at": "2026-12-01T09:00:00+03:00", "text": "позвонить"}
    status, reminder = await _call(http, server, "POST", f"/clients/{client_id}/reminders", body)
    _, feed = await _call(http, server, "GET", f"/clients/{client_id}/feed?kind=reminder")
    assert status == 201 and reminder["remind_at"] == "2026-12-01T06:00:00Z"
    assert [i["text"] for i in feed["items"]] == ["позвонить"]


async def test_an_unknown_feed_kind_is_a_422(server: CrmServer, http: aiohttp.ClientSession) -> None:
    client_id = await server.store.clients.create("Лев", [])
    status, _ = await _call(http, server, "GET", f"/clients/{client_id}/feed?kind=fax")  # (sms is a kind now)
    assert status == 422


async def test_naming_a_contact_card_makes_it_a_client(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    card_id = await server.store.clients.ensure_contact("+79168880000")
    status, client = await _call(http, server, "PATCH", f"/clients/{card_id}", {"name": "Мила"})
    assert status == 200 and (client["kind"], client["name"]) == ("client", "Мила")


async def test_a_missing_client_is_a_404_problem(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, problem = await _call(http, server, "GET", "/clients/999")
    assert status == 404 and problem["status"] == 404


async def test_a_null_name_is_refused_and_the_client_kept(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id = await server.store.clients.create("Нина", [])
    status, problem = await _call(http, server, "PATCH", f"/clients/{client_id}", {"name": None})
    assert status == 422 and problem["errors"][0]["field"] == "name"
    assert (await server.store.clients.get(client_id))["name"] == "Нина"


async def test_null_unlinks_the_company(server: CrmServer, http: aiohttp.ClientSession) -> None:
    company_id = await server.store.companies.create("ООО Луч")
    client_id = await server.store.clients.create("Роман", [], company_id=company_id)
    status, client = await _call(http, server, "PATCH", f"/clients/{client_id}", {"company_id": None})
    assert status == 200 and client["company_id"] is None

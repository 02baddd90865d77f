"""The daily workspace's API: search, deals board and moves, companies, card lists, alerts, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from adapters.builtin import board
from adapters.builtin.search import phone_fragment
from tests.unit.builtin.helpers import CrmServer, make_call


async def _call(
    http: aiohttp.ClientSession,
    server: CrmServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    ext: str = "202",
) -> Any:
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, (await r.json() if r.status != 204 else None)


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("89161234567", "79161234567"),
        ("+7 916 123-45-67", "79161234567"),
        ("916 123", "916123"),
        ("12", None),
    ],
)
def test_a_phone_is_matched_however_it_is_typed(typed: str, digits: str | None) -> None:
    assert phone_fragment(typed) == digits


@pytest.mark.parametrize(
    "typed", ["89161234567", "+7 916 123-45-67", "916 123", "ромаш", "РОМАШ", "петров", "7701234567"]
)
async def test_search_finds_a_client_or_company_however_it_is_typed(
    server: CrmServer, http: aiohttp.ClientSession, typed: str
) -> None:
    company = await server.store.companies.create("ООО «Ромашка»", "7701234567")
    await server.store.clients.create(
        "Иван Петров", ["+79161234567"], company_id=company, email="ivan@romashka.ru"
    )
    await server.store.clients.create("Мария Иванова", ["+79267770011"])
    status, found = await _call(http, server, "GET", f"/search?q={typed}")
    assert status == 200
    names = [c["name"] for c in found["clients"]] + [c["name"] for c in found["companies"]]
    assert names and all(n in ("Иван Петров", "ООО «Ромашка»") for n in names), names


async def test_search_finds_an_imported_client_written_without_the_api(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    # the importer writes rows directly; the folded search text is filled on the next search
    await server.store.db.write(
        "INSERT INTO clients (kind, name, email, created_at, updated_at)"
        " VALUES ('client', 'Ёлкин Пётр', '', 'x', 'x')"
    )
    _, found = await _call(http, server, "GET", "/search?q=елкин")
    assert [c["name"] for c in found["clients"]] == ["Ёлкин Пётр"]


async def test_the_calls_list_finds_a_number_typed_any_way(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("1.1", "+79161234567"))
    await server.adapter.log_call(make_call("1.2", "+79260000000"))
    await server.store.clients.create("Пётр Ёлкин", ["+79161234567"])
    for typed in ("89161234567", "916 123", "%2B7%20916%20123-45-67", "елкин"):
        _, data = await _call(http, server, "GET", f"/calls?q={typed}")
        assert [c["id"] for c in data["items"]] == ["1.1"], typed


async def _deal(server: CrmServer, http: aiohttp.ClientSession, **extra: Any) -> dict[str, Any]:
    client = await server.store.clients.create("Клиент", ["+79160000001"])
    pipeline = (await server.store.deals.pipelines())[0]
    body = {"title": "Поставка", "pipeline_id": pipeline["id"], "client_id": client, "value": 50000, **extra}
    status, deal = await _call(http, server, "POST", "/deals", body)
    assert status == 201
    return dict(deal)


async def test_moving_a_deal_is_written_to_the_clients_feed_with_who_and_when(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    deal = await _deal(server, http)
    status, moved = await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"stage": "Предложение"})
    assert status == 200 and moved["stage"] == "Предложение" and moved["stage_since"]
    _, feed = await _call(http, server, "GET", f"/clients/{deal['client_id']}/feed?kind=change")
    assert feed["items"][0]["text"] == "Сделка «Поставка»: Новая → Предложение"
    assert feed["items"][0]["who"] == "Егор Сотрудник" and feed["items"][0]["at"]
    _, card = await _call(http, server, "GET", f"/deals/{deal['id']}")
    assert [h["text"] for h in card["history"]][-1] == "Сделка «Поставка»: Новая → Предложение"


async def test_a_lost_deal_needs_a_reason_which_is_kept(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    deal = await _deal(server, http)
    status, problem = await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"status": "lost"})
    assert status == 422 and problem["errors"][0]["field"] == "reason"
    assert (await server.store.deals.get(deal["id"]))["status"] == "open"
    status, lost = await _call(
        http, server, "PATCH", f"/deals/{deal['id']}", {"status": "lost", "reason": "Дорого"}
    )
    assert status == 200 and lost["status"] == "lost" and lost["reason"] == "Дорого"
    _, card = await _call(http, server, "GET", f"/deals/{deal['id']}")
    assert card["history"][-1]["text"] == "Сделку «Поставка» закрыл с отказом. Причина: Дорого"


async def test_the_board_totals_each_stage_and_filters_mine(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    pipeline = (await server.store.deals.pipelines())[0]
    mine = await server.store.employees.by_extension("202")
    other = await server.store.employees.by_extension("203")
    assert mine and other
    for value, who, stage in ((100, mine, "Новая"), (250, other, "Новая"), (40, mine, "Счёт")):
        await server.store.deals.create(
            {
                "title": "Д",
                "pipeline_id": pipeline["id"],
                "value": value,
                "stage": stage,
                "responsible_id": who["id"],
            }
        )
    _, everyone = await _call(http, server, "GET", f"/board?pipeline_id={pipeline['id']}", ext="201")
    stages = {s["name"]: s for s in everyone["stages"]}
    assert (stages["Новая"]["count"], stages["Новая"]["value"]) == (2, 350)
    assert (stages["Счёт"]["count"], stages["Счёт"]["value"]) == (1, 40)
    _, own = await _call(http, server, "GET", f"/board?pipeline_id={pipeline['id']}&mine=1")
    assert {s["name"]: s["value"] for s in own["stages"] if s["count"]} == {"Новая": 100, "Счёт": 40}
    # an employee sees only their own deals on the board, asked or not (S7)
    _, employees = await _call(http, server, "GET", f"/board?pipeline_id={pipeline['id']}")
    assert employees["stages"] == own["stages"]


async def test_the_board_shows_a_bounded_number_of_cards_but_counts_them_all(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    pipeline = (await server.store.deals.pipelines())[0]
    rows = [
        (pipeline["id"], "Новая", f"Д{n}", 10, "2026-01-01T00:00:00Z")
        for n in range(board.CARDS_PER_STAGE + 7)
    ]
    async with server.store.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO deals (pipeline_id, stage, title, value, created_at) VALUES (?, ?, ?, ?, ?)", rows
        )
    _, data = await _call(http, server, "GET", "/board", ext="201")
    first = data["stages"][0]
    assert first["count"] == board.CARDS_PER_STAGE + 7 and len(first["deals"]) == board.CARDS_PER_STAGE


async def test_a_company_needs_a_name_or_an_inn(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, _ = await _call(http, server, "POST", "/companies", {})
    assert status == 422
    status, company = await _call(http, server, "POST", "/companies", {"inn": "7701234567"})
    assert status == 201 and company["inn"] == "7701234567"
    status, renamed = await _call(http, server, "PATCH", f"/companies/{company['id']}", {"name": "ООО Лето"})
    assert status == 200 and renamed["name"] == "ООО Лето"
    status, _ = await _call(http, server, "PATCH", f"/companies/{company['id']}", {"inn": "123"})
    assert status == 422


async def test_the_company_card_holds_its_peoples_calls_deals_and_tasks(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    company = await server.store.companies.create("ООО Лето", "")
    first = await server.store.clients.create("Анна", ["+79160000011"], company_id=company)
    await server.store.clients.create("Борис", ["+79160000022"], company_id=company)
    await server.adapter.log_call(make_call("2.1", "+79160000011"))
    await server.adapter.log_call(make_call("2.2", "+79160000022"))
    await server.adapter.log_call(make_call("2.3", "+79169999999"))
    pipeline = (await server.store.deals.pipelines())[0]
    await server.store.deals.create({"title": "Лето", "pipeline_id": pipeline["id"], "client_id": first})
    await server.store.notes.add_task({"title": "Позвонить", "client_id": first}, None)
    _, card = await _call(http, server, "GET", f"/companies/{company}")
    assert sorted(c["id"] for c in card["calls"]) == ["2.1", "2.2"]
    assert [d["title"] for d in card["deals"]] == ["Лето"] and [t["title"] for t in card["tasks"]] == [
        "Позвонить"
    ]
    assert {p["name"]: p["phones"] for p in card["people"]} == {
        "Анна": ["+79160000011"],
        "Борис": ["+79160000022"],
    }


async def test_emails_are_a_list_and_changes_are_journalled(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client = await server.store.clients.create("Вера", ["+79160000033"])
    status, row = await _call(http, server, "PATCH", f"/clients/{client}", {"emails": ["a@b.ru", "c@d.ru"]})
    assert status == 200 and row["emails"] == ["a@b.ru", "c@d.ru"] and row["email"] == "a@b.ru"
    status, _ = await _call(http, server, "PATCH", f"/clients/{client}", {"emails": ["не почта"]})
    assert status == 422
    manager = await server.store.employees.by_extension("201")
    assert manager
    await _call(http, server, "PATCH", f"/clients/{client}", {"responsible_id": manager["id"]})
    _, feed = await _call(http, server, "GET", f"/clients/{client}/feed?kind=change")
    texts = [i["text"] for i in feed["items"]]
    assert "Ответственный: — → Марк Менеджер" in texts and "E-mail: — → a@b.ru, c@d.ru" in texts


async def test_a_number_is_taken_off_a_client(server: CrmServer, http: aiohttp.ClientSession) -> None:
    client = await server.store.clients.create("Вера", ["+79160000033", "+79160000044"])
    status, row = await _call(http, server, "DELETE", f"/clients/{client}/phones/%2B79160000044")
    assert status == 200 and row["phones"] == ["+79160000033"]
    status, _ = await _call(http, server, "DELETE", f"/clients/{client}/phones/%2B79160000044")
    assert status == 404


async def test_a_new_numbers_card_is_made_on_request(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, card = await _call(http, server, "POST", "/contacts", {"phone": "8 916 555-00-99"})
    assert status == 200 and card["kind"] == "contact" and card["phones"] == ["+79165550099"]
    _, again = await _call(http, server, "POST", "/contacts", {"phone": "+79165550099"})
    assert again["id"] == card["id"]


async def test_alerts_bring_due_reminders_and_tasks_and_a_count(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    me = await server.store.employees.by_extension("202")
    assert me
    client = await server.store.clients.create("Вера", ["+79160000033"])
    now = datetime.now(UTC)
    past, soon, later = (now - timedelta(minutes=5)), (now + timedelta(hours=1)), (now + timedelta(days=2))
    await server.store.notes.add_reminder(client, me["id"], past.isoformat(), "Перезвонить Вере")
    await server.store.notes.add_reminder(client, me["id"], soon.isoformat(), "Скоро")
    await server.store.notes.add_reminder(client, me["id"], later.isoformat(), "Потом")
    await server.store.notes.add_task(
        {"title": "Счёт", "assignee_id": me["id"], "deadline": past.isoformat()}, None
    )
    _, data = await _call(http, server, "GET", "/alerts")
    assert data["count"] == 2 and {d["text"] for d in data["due"]} == {"Перезвонить Вере", "Счёт"}
    assert [u["text"] for u in data["upcoming"]] == ["Скоро"]
    reminder = next(d for d in data["due"] if d["kind"] == "reminder")
    await _call(http, server, "PATCH", f"/reminders/{reminder['id']}", {"done": True})
    _, after = await _call(http, server, "GET", "/alerts")
    assert after["count"] == 1
    _, other = await _call(http, server, "GET", "/alerts", ext="203")
    assert other["count"] == 0


async def test_a_missed_call_makes_one_call_back_task_for_the_responsible(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    manager = await server.store.employees.by_extension("201")
    assert manager
    await server.store.clients.create("Вера", ["+79160000033"], responsible_id=manager["id"])
    missed = make_call("3.1", "+79160000033", answered_by=None, rang=("202",))
    await server.adapter.log_call(missed)
    await server.adapter.log_call(missed)  # a redelivery
    await server.adapter.log_call(make_call("3.2", "+79160000033", answered_by=None, rang=("202",)))
    tasks = await server.store.db.fetch_all("SELECT title, assignee_id, done FROM tasks")
    assert tasks == [{"title": "Перезвонить: +7 916 000-00-33", "assignee_id": manager["id"], "done": 0}]


async def test_an_unknown_missed_caller_gets_a_task_for_who_rang_unless_switched_off(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    me = await server.store.employees.by_extension("202")
    assert me
    await server.adapter.log_call(make_call("4.1", "+79160000077", answered_by=None, rang=("202",)))
    assert await server.store.db.scalar("SELECT assignee_id FROM tasks") == me["id"]
    status, _ = await _call(http, server, "PATCH", "/settings", {"missed_call_task": False}, ext="200")
    assert status == 200
    await server.adapter.log_call(make_call("4.2", "+79160000088", answered_by=None, rang=("202",)))
    assert await server.store.db.scalar("SELECT COUNT(*) FROM tasks") == 1


async def test_only_admins_set_a_known_time_zone(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, _ = await _call(http, server, "PATCH", "/settings", {"timezone": "Asia/Yekaterinburg"})
    assert status == 403
    status, problem = await _call(http, server, "PATCH", "/settings", {"timezone": "Mars/Olympus"}, ext="200")
    assert status == 422 and problem["errors"][0]["field"] == "timezone"
    status, saved = await _call(
        http, server, "PATCH", "/settings", {"timezone": "Asia/Yekaterinburg"}, ext="200"
    )
    assert status == 200 and saved["timezone"] == "Asia/Yekaterinburg"
    _, read = await _call(http, server, "GET", "/settings")
    assert read == {
        "timezone": "Asia/Yekaterinburg",
        "missed_call_task": True,
        "client_columns": board.DEFAULT_CLIENT_COLUMNS,
        "call_outcomes": board.DEFAULT_CALL_OUTCOMES,
    }


async def test_the_live_feed_shows_moves_comments_and_calls_employees_only_their_own(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    deal = await _deal(server, http)
    await _call(http, server, "PATCH", f"/deals/{deal['id']}", {"stage": "Счёт"})
    await _call(http, server, "POST", f"/clients/{deal['client_id']}/comments", {"text": "Договорились"})
    now = datetime.now(UTC)
    await server.adapter.log_call(make_call("5.1", "+79160000001", start=now, rang=("202",)))
    await server.adapter.log_call(
        make_call("5.2", "+79160000001", start=now, answered_by="203", rang=("203",))
    )
    _, mine = await _call(http, server, "GET", "/activity")
    texts = [i["text"] for i in mine["items"]]
    assert "Сделка «Поставка»: Новая → Счёт" in texts and "Договорились" in texts
    assert [i["who"] for i in mine["items"] if i["kind"] == "call"] == ["202"]
    _, admin = await _call(http, server, "GET", "/activity?kind=call", ext="200")
    assert sorted(i["who"] for i in admin["items"]) == ["202", "203"]
    status, _ = await _call(http, server, "GET", "/activity?kind=nope")
    assert status == 422


async def test_the_companies_list_finds_a_name_in_any_case(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.store.companies.create("ООО «Ромашка»", "7701234567")
    await server.store.companies.create("АО Ёлка", "")
    for typed, name in (
        ("ромаш", "ООО «Ромашка»"),
        ("РОМАШ", "ООО «Ромашка»"),
        ("елка", "АО Ёлка"),
        ("770123", "ООО «Ромашка»"),
    ):
        _, data = await _call(http, server, "GET", f"/companies?q={typed}")
        assert [c["name"] for c in data["items"]] == [name], typed


async def test_a_task_set_on_a_deal_shows_on_its_clients_card_with_its_author(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    me = await server.store.employees.by_extension("202")
    assert me is not None
    client = await server.store.clients.create("Анна", ["+79160000011"], responsible_id=me["id"])
    pipeline = (await server.store.deals.pipelines())[0]
    deal = await server.store.deals.create(
        {"title": "Лето", "pipeline_id": pipeline["id"], "client_id": client, "responsible_id": me["id"]}
    )
    status, task = await _call(
        http, server, "POST", "/tasks", {"title": "Отправить КП", "deal_id": deal["id"]}
    )
    _, card = await _call(http, server, "GET", f"/clients/{client}")
    _, feed = await _call(http, server, "GET", f"/clients/{client}/feed?kind=task")
    assert (status, task["client_id"], task["deal_id"]) == (201, client, deal["id"])
    assert [t["title"] for t in card["tasks"]] == ["Отправить КП"]
    assert [i["text"] for i in feed["items"]] == ["Отправить КП"]


async def test_a_number_added_to_a_card_is_in_its_feed_with_who_added_it(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    me = await server.store.employees.by_extension("202")
    assert me is not None
    client = await server.store.clients.create("Анна", ["+79160000011"], responsible_id=me["id"])
    status, _ = await _call(http, server, "POST", f"/clients/{client}/phones", {"phone": "8 916 000-00-44"})
    _, feed = await _call(http, server, "GET", f"/clients/{client}/feed?kind=change")
    assert (status, [(i["text"], i["who"]) for i in feed["items"]]) == (
        200,
        [("Телефон добавлен: +79160000044", "Егор Сотрудник")],
    )

"""The daily workspace in a real browser: deals board, companies, the card, search, alerts, phone width.

Every test saves a full-page screenshot of each state it reaches under tests/artifacts/.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.builtin.db import NotFoundError
from connector.calls.model import LiveKind
from tests.browser.test_crm_pages import TIMEOUT, live, shot, sign_in
from tests.unit.builtin.helpers import CrmServer, make_call

pytestmark = pytest.mark.browser


async def _deals(crm: CrmServer) -> tuple[int, dict[str, int]]:
    """Three clients with deals in the first pipeline; the pipeline id and the deals' ids by title."""
    pipeline = (await crm.store.deals.pipelines())[0]
    me = await crm.store.employees.by_extension("202")
    other = await crm.store.employees.by_extension("203")
    assert me and other
    company = await crm.store.companies.create("ООО «Ромашка»", "7701234567")
    ids = {}
    for title, client, value, stage, who in (
        ("Поставка бумаги", "Иван Петров", 120000, "Новая", me),
        ("Картриджи", "Мария Иванова", 45500, "Новая", other),
        ("Годовой сервис", "Олег Сидоров", 300000, "Предложение", me),
    ):
        client_id = await crm.store.clients.create(client, [], company_id=company, responsible_id=who["id"])
        deal = await crm.store.deals.create(
            {"title": title, "pipeline_id": pipeline["id"], "client_id": client_id, "value": value,
             "stage": stage, "responsible_id": who["id"]}
        )  # fmt: skip
        ids[title] = deal["id"]
    return pipeline["id"], ids


async def test_a_deal_dragged_to_another_stage_is_saved_and_written_to_the_feed(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await sign_in(page, crm, "201")  # a manager: employees see only their own deals (S7)
    await page.get_by_test_id("nav-deals").click()
    board = page.get_by_test_id("board")
    first = board.locator('[data-stage="Новая"]')
    await expect(first.get_by_test_id("stage-total")).to_have_text("2 · 165 500 ₽", timeout=TIMEOUT)
    await shot(page, "deals-board")
    card = board.locator(f'[data-deal="{ids["Поставка бумаги"]}"]')
    await card.drag_to(board.locator('[data-stage="Согласование"]'))
    await expect(board.locator('[data-stage="Согласование"]').get_by_test_id("stage-total")).to_have_text(
        "1 · 120 000 ₽", timeout=TIMEOUT
    )
    await expect(first.get_by_test_id("stage-total")).to_have_text("1 · 45 500 ₽")
    await shot(page, "deals-board-moved")
    deal = await crm.store.deals.get(ids["Поставка бумаги"])
    assert deal["stage"] == "Согласование"
    await page.goto(f"{crm.url}/crm/#/client/{deal['client_id']}")
    await expect(page.get_by_test_id("feed")).to_contain_text(
        "Сделка «Поставка бумаги»: Новая → Согласование", timeout=TIMEOUT
    )
    await expect(page.get_by_test_id("feed").locator("li", has_text="Новая → Согласование")).to_contain_text(
        "Марк Менеджер"
    )
    await shot(page, "client-feed-deal-moved")


async def test_a_manager_sets_up_pipelines_from_the_board_and_moves_a_deal_to_another(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await sign_in(page, crm, "201")
    await page.get_by_test_id("nav-deals").click()
    board = page.get_by_test_id("board")
    # rename a stage from its column: its deals follow
    await board.locator('[data-stage="Предложение"]').get_by_test_id("stage-rename-open").click()
    await page.get_by_test_id("stage-name").fill("КП отправлено")
    await page.get_by_test_id("dialog-submit").click()
    renamed = board.locator('[data-stage="КП отправлено"]')
    await expect(renamed.get_by_test_id("stage-total")).to_have_text("1 · 300 000 ₽", timeout=TIMEOUT)
    # a new pipeline from the settings: the manual's three stages, then a fourth added on the board
    await page.get_by_test_id("pipeline-settings-open").click()
    await page.get_by_test_id("pipeline-new").click()
    await page.get_by_test_id("pipeline-name").fill("Сервис")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("board-pipeline")).to_have_value(
        str((await crm.store.deals.pipelines())[-1]["id"]), timeout=TIMEOUT
    )
    await expect(board.get_by_test_id("stage")).to_have_count(3)
    await page.get_by_test_id("board-add-stage").click()
    await page.get_by_test_id("stage-name").fill("Выезд мастера")
    await page.get_by_test_id("dialog-submit").click()
    await expect(board.get_by_test_id("stage")).to_have_count(4, timeout=TIMEOUT)
    await shot(page, "deals-board-new-pipeline")
    # the deal card moves a deal into that pipeline
    await page.get_by_test_id("board-pipeline").select_option(label="Продажи")
    await board.locator(f'[data-deal="{ids["Картриджи"]}"]').click()
    await page.get_by_test_id("deal-stage").select_option(label="Сервис: Выезд мастера")
    await expect(page.get_by_test_id("deal-history")).to_contain_text(
        "Сделка «Картриджи» перенесена: Продажи → Сервис, этап Выезд мастера", timeout=TIMEOUT
    )
    await shot(page, "deal-moved-to-another-pipeline")
    deal = await crm.store.deals.get(ids["Картриджи"])
    pipelines = {p["id"]: p["name"] for p in await crm.store.deals.pipelines()}
    assert (pipelines[deal["pipeline_id"]], deal["stage"]) == ("Сервис", "Выезд мастера")
    # a pipeline with a deal is not deleted: the refusal is said in Russian
    await page.keyboard.press("Escape")
    await page.get_by_test_id("board-pipeline").select_option(label="Сервис")
    await page.get_by_test_id("pipeline-settings-open").click()
    await page.get_by_test_id("pipeline-delete").click()
    await page.get_by_test_id("confirm").get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("toast").last).to_contain_text(
        "В воронке есть сделки (1)", timeout=TIMEOUT
    )
    await shot(page, "pipeline-settings")
    assert len(await crm.store.deals.pipelines()) == 2


async def test_a_participant_added_to_a_deal_is_notified_of_its_moves_and_can_leave_it(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)  # «Картриджи» is Ева's (203)
    await sign_in(page, crm, "201")
    egor = await page.context.browser.new_page(locale="ru-RU")  # a second browser, signed in as Егор
    try:
        await sign_in(egor, crm, "202")
        await page.goto(f"{crm.url}/crm/#/deals?deal={ids['Картриджи']}")
        people = page.get_by_test_id("deal-people")
        await expect(people.locator(".chip.leader")).to_contain_text("Ева Сотрудник", timeout=TIMEOUT)
        await page.get_by_test_id("participant-add").select_option(label="Егор Сотрудник")
        await expect(page.get_by_test_id("deal-people")).to_contain_text("Егор Сотрудник", timeout=TIMEOUT)
        await expect(page.get_by_test_id("deal-history")).to_contain_text("участник Егор Сотрудник")
        await shot(page, "deal-participants")
        await page.get_by_test_id("deal-stage").select_option(label="Счёт")
        notice = egor.get_by_test_id("notice").filter(has_text="Новая → Счёт")
        await expect(notice).to_contain_text(
            "Сделка «Картриджи»Новая → Счёт — Марк Менеджер", timeout=TIMEOUT
        )
        await shot(egor, "deal-notice")
        await notice.get_by_role("button", name="Открыть").click()
        card = egor.get_by_test_id("deal-card-dialog")
        await expect(card).to_contain_text("Картриджи", timeout=TIMEOUT)
        async with egor.expect_response(lambda r: r.url.endswith("/notifications")) as answered:
            await egor.get_by_test_id("deal-notify").uncheck()
        assert (await answered.value).status == 200
        egor_id = (await crm.store.employees.by_extension("202"))["id"]  # type: ignore[index]
        people_rows = (await crm.store.deals.get(ids["Картриджи"]))["people"]
        assert [p["muted"] for p in people_rows if p["employee_id"] == egor_id] == [True]
        await egor.get_by_test_id("deal-leave").click()
        await expect(egor.get_by_test_id("deal-left")).to_contain_text("«Картриджи»", timeout=TIMEOUT)
        await expect(card).to_have_count(0)
        await expect(egor.locator(f'[data-deal="{ids["Картриджи"]}"]')).to_have_count(0)  # not his deal now
        await shot(egor, "deal-left")
        assert [p["name"] for p in (await crm.store.deals.get(ids["Картриджи"]))["people"]] == [
            "Ева Сотрудник"
        ]
    finally:
        await egor.close()


async def test_an_admin_adds_fields_that_cards_fill_the_list_shows_and_the_super_filter_finds(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await _deals(crm)
    await sign_in(page, crm, "200")
    await page.goto(f"{crm.url}/crm/#/settings")
    for label, kind, options in (("Бюджет", "Число", ""), ("Источник", "Список", "Сайт\nЗвонок")):
        await page.get_by_test_id("field-add").click()
        await page.get_by_test_id("field-label").fill(label)
        await page.get_by_test_id("field-kind").select_option(label=kind)
        if options:
            await page.get_by_test_id("field-options").fill(options)
        await page.get_by_test_id("dialog-submit").click()
        await expect(page.get_by_test_id("fields-admin")).to_contain_text(label, timeout=TIMEOUT)
    await page.reload()  # the columns panel lists the new fields
    await page.get_by_test_id("column-Бюджет").check()
    await page.get_by_test_id("column-Источник").check()
    await page.get_by_test_id("columns-save").click()
    await expect(page.get_by_test_id("toast").last).to_contain_text(
        "Столбцы списка клиентов сохранены", timeout=TIMEOUT
    )
    await shot(page, "settings-custom-fields")
    petrov = (await crm.store.clients.list("Петров", limit=1, offset=0))[0][0]
    await page.goto(f"{crm.url}/crm/#/client/{petrov['id']}")
    block = page.get_by_test_id("client-fields")
    await block.locator('[data-label="Бюджет"]').click()
    await block.locator("input").fill("150 000")
    await block.locator("input").press("Enter")
    await expect(block.locator('[data-label="Бюджет"]')).to_have_text("150 000", timeout=TIMEOUT)
    await block.locator('[data-label="Источник"]').click()
    await block.locator("select").select_option("Сайт")
    await expect(block.locator('[data-label="Источник"]')).to_have_text("Сайт", timeout=TIMEOUT)
    await expect(page.get_by_test_id("feed")).to_contain_text("Бюджет: — → 150000", timeout=TIMEOUT)
    await shot(page, "client-custom-fields")
    await page.get_by_test_id("nav-clients").click()
    clients = page.get_by_test_id("clients")
    await expect(clients.locator("th")).to_contain_text(
        ["Имя", "Телефоны", "Компания", "Ответственный", "Изменён", "Бюджет", "Источник"], timeout=TIMEOUT
    )
    await expect(clients.locator(f'tr[data-client="{petrov["id"]}"]')).to_contain_text("150 000")
    await page.get_by_test_id("filter-open").click()
    await page.get_by_test_id("filter-field").select_option(label="Бюджет")
    await page.get_by_test_id("filter-op").select_option(label=">")
    await page.get_by_test_id("filter-value").fill("100000")
    await page.get_by_test_id("dialog-submit").click()
    await expect(clients.locator("tr[data-client]")).to_have_count(1, timeout=TIMEOUT)
    await expect(clients).to_contain_text("Иван Петров")
    await expect(page.get_by_test_id("filter-chips")).to_contain_text("Бюджет > 100 000")
    await shot(page, "clients-super-filter")
    await page.get_by_test_id("filter-reset").click()
    await expect(clients.locator("tr[data-client]")).to_have_count(3, timeout=TIMEOUT)


async def test_an_employee_sees_no_pipeline_settings(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await _deals(crm)
    await sign_in(page, crm, "202")
    await page.get_by_test_id("nav-deals").click()
    await expect(page.get_by_test_id("board").get_by_test_id("stage").first).to_be_visible(timeout=TIMEOUT)
    for control in ("pipeline-settings-open", "board-add-stage", "stage-rename-open"):
        await expect(page.get_by_test_id(control)).to_have_count(0)


async def test_a_deal_dropped_on_lost_asks_for_the_reason(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await sign_in(page, crm, "201")  # «Картриджи» is another employee's deal: a manager closes it
    await page.goto(f"{crm.url}/crm/#/deals")
    card = page.locator(f'[data-deal="{ids["Картриджи"]}"]')
    await card.drag_to(page.get_by_test_id("drop-lost"))
    dialog = page.get_by_test_id("close-dialog")
    await expect(dialog).to_be_visible(timeout=TIMEOUT)
    await shot(page, "deal-lost-reason")
    await dialog.get_by_test_id("close-reason").fill("Купили у конкурента")
    await dialog.get_by_test_id("dialog-submit").click()
    await expect(page.locator(f'[data-deal="{ids["Картриджи"]}"]')).to_have_count(0, timeout=TIMEOUT)
    deal = await crm.store.deals.get(ids["Картриджи"])
    assert (deal["status"], deal["reason"]) == ("lost", "Купили у конкурента")


async def test_a_deal_is_won_from_its_card_with_the_keyboard_and_mine_filters_the_board(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await sign_in(page, crm)
    await page.goto(f"{crm.url}/crm/#/deals")
    await page.get_by_test_id("board-who").get_by_role("tab", name="Мои").click()
    await expect(page.get_by_test_id("deal-card")).to_have_count(2, timeout=TIMEOUT)
    card = page.locator(f'[data-deal="{ids["Годовой сервис"]}"]')
    await card.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_test_id("deal-card-dialog")
    await expect(dialog).to_be_visible(timeout=TIMEOUT)
    await shot(page, "deal-card")
    await dialog.get_by_test_id("deal-won").click()
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("deal-card")).to_have_count(1, timeout=TIMEOUT)
    assert (await crm.store.deals.get(ids["Годовой сервис"]))["status"] == "won"


async def test_a_company_card_shows_its_contacts_calls_and_deals(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await _deals(crm)
    petrov = await crm.store.clients.list("Петров", limit=1, offset=0)
    await crm.store.clients.add_phone(petrov[0][0]["id"], "+79161234567")
    await crm.adapter.log_call(make_call("1700000400.1", "+79161234567"))
    await sign_in(page, crm)
    await page.get_by_test_id("nav-companies").click()
    await page.get_by_test_id("companies-search").fill("ромаш")
    rows = page.get_by_test_id("companies").locator("tbody tr")
    await expect(rows).to_have_count(1, timeout=TIMEOUT)
    await shot(page, "companies")
    await rows.first.get_by_role("link").click()
    await expect(page.get_by_test_id("company-title")).to_have_text("ООО «Ромашка»", timeout=TIMEOUT)
    await expect(page.get_by_test_id("company-people").locator("li")).to_have_count(3)
    await expect(page.get_by_test_id("company-deals").locator("li")).to_have_count(3)
    await expect(page.get_by_test_id("company-calls").locator("tbody tr")).to_have_count(1)
    await shot(page, "company-card")


async def test_a_new_company_needs_only_an_inn(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm, "200")
    await page.goto(f"{crm.url}/crm/#/companies")
    await expect(page.locator("[data-state=empty]")).to_contain_text("Компаний пока нет", timeout=TIMEOUT)
    await shot(page, "companies-empty")
    await page.get_by_test_id("new-company").click()
    await page.get_by_test_id("company-inn").fill("123")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("dialog-error")).to_have_text(
        "Проверьте поля формы. ИНН: ИНН состоит из 10 или 12 цифр", timeout=TIMEOUT
    )
    await shot(page, "company-dialog-error")
    await page.get_by_test_id("company-inn").fill("7701234567")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("company-title")).to_have_text("ИНН 7701234567", timeout=TIMEOUT)


async def test_the_card_is_edited_in_place(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    client_id = await crm.store.clients.create("Павел", ["+79165550055"])
    await sign_in(page, crm, "201")  # hands the client to a manager midway: an employee could not edit on
    await page.goto(f"{crm.url}/crm/#/client/{client_id}")
    await page.get_by_test_id("client-name-edit").click()
    await page.get_by_test_id("client-name-edit-input").fill("Павел Смирнов")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("client-name-edit")).to_have_text("Павел Смирнов", timeout=TIMEOUT)
    await page.get_by_test_id("add-phone").fill("8 (916) 555-00-66")
    await page.get_by_test_id("add-phone").press("Enter")
    await expect(page.get_by_test_id("card-phones")).to_have_attribute(
        "data-values", "+79165550055, +79165550066", timeout=TIMEOUT
    )
    await page.get_by_test_id("add-email").fill("pavel@example.ru")
    await page.get_by_test_id("add-email").press("Enter")
    await expect(page.get_by_test_id("card-emails")).to_have_attribute(
        "data-values", "pavel@example.ru", timeout=TIMEOUT
    )
    await page.get_by_test_id("card-responsible").select_option(label="Марк Менеджер")
    await expect(page.get_by_test_id("feed")).to_contain_text(
        "Ответственный: — → Марк Менеджер", timeout=TIMEOUT
    )
    await page.get_by_test_id("card-company").fill("ООО Лето")
    await page.get_by_test_id("card-company").press("Enter")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("card-company")).to_have_value("ООО Лето", timeout=TIMEOUT)
    await shot(page, "client-card-edited")
    row = await crm.store.clients.get(client_id)
    assert (row["name"], row["company_name"], row["responsible_name"]) == (
        "Павел Смирнов",
        "ООО Лето",
        "Марк Менеджер",
    )


async def test_the_search_box_finds_a_number_typed_any_way(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    company = await crm.store.companies.create("ООО «Ромашка»", "7701234567")
    client_id = await crm.store.clients.create("Иван Петров", ["+79161234567"], company_id=company)
    await sign_in(page, crm)
    box = page.get_by_test_id("search")
    results = page.get_by_test_id("search-results")
    for typed in ("89161234567", "+7 916 123-45-67", "916 123", "петров"):
        await box.fill(typed)
        await expect(results.get_by_test_id("search-client")).to_have_count(1, timeout=TIMEOUT)
        await expect(results).to_contain_text("Иван Петров")
    await shot(page, "search-results")
    await box.fill("770123")
    await expect(results.get_by_test_id("search-company")).to_have_count(1, timeout=TIMEOUT)
    await box.fill("петров")
    await expect(results.get_by_test_id("search-client")).to_have_count(1, timeout=TIMEOUT)
    await box.press("ArrowDown")
    await box.press("Enter")
    await expect(page).to_have_url(f"{crm.url}/crm/#/client/{client_id}", timeout=TIMEOUT)


async def test_a_due_reminder_alerts_with_a_toast_a_notification_and_a_badge(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    me = await crm.store.employees.by_extension("202")
    assert me
    client_id = await crm.store.clients.create("Вера", ["+79165550044"])
    soon = datetime.now(UTC) + timedelta(seconds=4)
    await crm.store.notes.add_reminder(client_id, me["id"], soon.isoformat(), "Позвонить Вере про договор")
    await page.context.grant_permissions(["notifications"], origin=crm.url)
    await page.add_init_script(
        "window.__shown = []; window.Notification = class { static permission = 'granted';"
        " static requestPermission() { return Promise.resolve('granted'); }"
        " constructor(title, opts) { window.__shown.push(title + ': ' + opts.body); } };"
    )
    await sign_in(page, crm)
    await expect(page.get_by_test_id("bell-count")).to_be_hidden()
    toast = page.get_by_test_id("alert-toast")
    await expect(toast).to_contain_text("Позвонить Вере про договор", timeout=TIMEOUT)
    await expect(page.get_by_test_id("bell-count")).to_have_text("1")
    assert await page.evaluate("window.__shown") == ["Напоминание: Позвонить Вере про договор — Вера"]
    await shot(page, "reminder-alert")
    await toast.get_by_role("button", name="Готово").click()
    await expect(page.get_by_test_id("bell-count")).to_be_hidden(timeout=TIMEOUT)


async def test_a_call_ringing_while_the_tab_is_hidden_shows_a_desktop_notification(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await crm.store.clients.create("Вера Павлова", ["+79165550045"])
    await page.context.grant_permissions(["notifications"], origin=crm.url)
    await page.add_init_script(
        "window.__shown = []; window.__hidden = false;"
        " Object.defineProperty(document, 'hidden', { get: () => window.__hidden });"
        " window.Notification = class { static permission = 'granted';"
        " static requestPermission() { return Promise.resolve('granted'); }"
        " constructor(title, opts) { window.__shown.push([title, opts.body, opts.tag]); } close() {} };"
    )
    await sign_in(page, crm)
    crm.hub.publish(live(LiveKind.RINGING, "+79165550045", call_id="1700000900.1"))  # the tab in front
    await expect(page.get_by_test_id("callpanel")).to_be_visible(timeout=TIMEOUT)
    await page.evaluate("window.__hidden = true")  # the employee switched to another tab
    crm.hub.publish(live(LiveKind.RINGING, "+79165550045", call_id="1700000900.2"))
    await page.wait_for_function("window.__shown.length >= 1", timeout=TIMEOUT)
    assert await page.evaluate("window.__shown") == [
        ["Входящий звонок", "Вера Павлова\n+7 916 555-00-45", "call:1700000900.2"]
    ]


async def test_an_overdue_task_stands_out_and_a_new_task_is_made_on_the_tasks_page(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    me = await crm.store.employees.by_extension("202")
    assert me
    client_id = await crm.store.clients.create("Вера", ["+79165550044"])
    late = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    await crm.store.notes.add_task({"title": "Выставить счёт", "assignee_id": me["id"], "deadline": late,
                                     "client_id": client_id}, me["id"])  # fmt: skip
    await sign_in(page, crm)
    await page.get_by_test_id("nav-tasks").click()
    overdue = page.locator('[data-group="Просроченные"]')
    await expect(overdue).to_contain_text("Выставить счёт", timeout=TIMEOUT)
    await expect(overdue).to_contain_text("Вера")
    await expect(overdue.locator(".overdue")).to_have_count(1)
    await expect(overdue.get_by_test_id("task-author")).to_have_count(0)  # set by the assignee
    boss = await crm.store.employees.by_extension("201")
    assert boss
    await crm.store.notes.add_task(
        {"title": "Подготовить договор", "assignee_id": me["id"], "deadline": late}, boss["id"]
    )
    await page.reload()
    await expect(overdue.get_by_test_id("task-author")).to_have_text(
        " · поставил(а) Марк Менеджер", timeout=TIMEOUT
    )
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("Отправить КП")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.locator('[data-group="Позже и без срока"]')).to_contain_text(
        "Отправить КП", timeout=TIMEOUT
    )
    await shot(page, "tasks-overdue")


async def test_the_calls_list_fits_a_phone_and_quick_actions_use_dialogs(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    for n in range(3):
        await crm.adapter.log_call(
            make_call(f"1700000500.{n}", f"+7916111002{n}", answered_by=None if n == 1 else "202")
        )
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, crm)
    await expect(page.locator("tr[data-call]")).to_have_count(3, timeout=TIMEOUT)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    await shot(page, "calls-phone")
    row = page.locator('tr[data-call="1700000500.0"]')
    await row.get_by_test_id("call-menu").locator("summary").click()
    await row.get_by_test_id("act-comment").click()
    dialog = page.get_by_test_id("dialog")
    await dialog.locator("textarea").fill("Перезвонить завтра")
    await shot(page, "call-comment-dialog-phone")
    await dialog.get_by_test_id("dialog-submit").click()
    await expect(dialog).to_have_count(0, timeout=TIMEOUT)
    # the dialog closes first, then the comment is posted: the toast says it is saved
    await expect(page.get_by_test_id("toast").last).to_contain_text("Комментарий сохранён", timeout=TIMEOUT)
    assert await crm.store.db.scalar("SELECT text FROM comments") == "Перезвонить завтра"


async def test_the_calls_list_downloads_as_a_spreadsheet_with_the_filter_on_screen(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    for n in range(3):
        await crm.adapter.log_call(
            make_call(f"1700000600.{n}", f"+7916111003{n}", answered_by=None if n == 1 else "202")
        )
    await sign_in(page, crm)
    await expect(page.locator("tr[data-call]")).to_have_count(3, timeout=TIMEOUT)
    await page.get_by_test_id("filter-type").get_by_role("tab", name="Пропущенные").click()
    await expect(page.locator("tr[data-call]")).to_have_count(1, timeout=TIMEOUT)
    await shot(page, "calls-missed-with-export")
    async with page.expect_download(timeout=TIMEOUT) as caught:
        await page.get_by_test_id("calls-export").click()
    download = await caught.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8-sig")
    lines = text.splitlines()
    assert (download.suggested_filename, len(lines), lines[1].split(";")[2]) == (
        "calls.csv",
        2,
        "+79161110031",
    )


async def test_an_employee_sees_no_admin_sections_and_analytics_says_why(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm)
    await expect(page.get_by_test_id("nav-calls")).to_be_visible()
    await expect(page.get_by_test_id("nav-analytics")).to_have_count(0)
    await expect(page.get_by_test_id("nav-settings")).to_have_count(0)
    await page.goto(f"{crm.url}/crm/analytics#import")
    await expect(page.locator("[data-state=empty]")).to_contain_text("Раздел недоступен", timeout=TIMEOUT)
    await shot(page, "analytics-employee")


async def test_the_clients_page_pages_and_makes_a_new_client(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    for n in range(30):
        await crm.store.clients.create(f"Клиент {n:02}", [f"+791655500{n:02}"])
    await crm.store.clients.ensure_contact("+79990000000")  # an unnamed card stays out of «Клиенты»
    await sign_in(page, crm)
    await page.get_by_test_id("nav-clients").click()
    await expect(page.get_by_test_id("pager")).to_contain_text("Всего: 30, страница 1 из 2", timeout=TIMEOUT)
    await page.get_by_test_id("page-next").click()
    await expect(page.get_by_test_id("clients").locator("tbody tr")).to_have_count(5, timeout=TIMEOUT)
    await shot(page, "clients-page-2")
    await page.get_by_test_id("new-client").click()
    await page.get_by_test_id("new-client-name").fill("Глеб Новиков")
    await page.get_by_test_id("new-client-phone").fill("8 916 777 00 99")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("card-title")).to_have_text("Глеб Новиков", timeout=TIMEOUT)
    await shot(page, "client-created")


async def test_dates_show_in_the_companys_time_zone(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await crm.store.db.write("INSERT INTO settings (key, value) VALUES ('timezone', 'Asia/Yekaterinburg')")
    at = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 01:30 on the 21st in Yekaterinburg (UTC+5)
    await crm.adapter.log_call(make_call("1700000600.1", "+79161110066", start=at))
    context = page.context
    tz_page = await context.browser.new_page(timezone_id="UTC", locale="ru-RU")
    try:
        await sign_in(tz_page, crm)
        row = tz_page.locator('tr[data-call="1700000600.1"]')
        await expect(row).to_contain_text("21 нояб., 01:30", timeout=TIMEOUT)
        await shot(tz_page, "calls-yekaterinburg")
    finally:
        await tz_page.close()


async def test_the_live_feed_shows_what_the_company_does(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await crm.store.deals.update(ids["Картриджи"], {"stage": "Счёт"}, by=None)
    await crm.adapter.log_call(make_call("1700000700.1", "+79161110077", start=datetime.now(UTC)))
    await sign_in(page, crm)
    await page.get_by_test_id("nav-feed").click()
    feed = page.get_by_test_id("live-feed")
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "on")  # kept across pages
    await expect(feed).to_contain_text("Сделка «Картриджи»: Новая → Счёт", timeout=TIMEOUT)
    await expect(feed).to_contain_text("Входящий звонок, принят")
    await shot(page, "live-feed")
    await page.get_by_test_id("feed-kinds").get_by_role("tab", name="Сделки").click()
    await expect(feed.locator("li[data-kind=call]")).to_have_count(0, timeout=TIMEOUT)


async def test_the_live_feed_shows_new_items_as_they_happen_without_a_reload(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await sign_in(page, crm)
    await page.get_by_test_id("nav-feed").click()
    feed = page.get_by_test_id("live-feed")
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "on")
    await expect(feed.locator("li[data-kind]").first).to_be_visible(timeout=TIMEOUT)
    await page.evaluate("window.__sameFeed = document.querySelector('[data-testid=live-feed]')")
    # written while the page is open: a filed call, a comment and a move past the REST API
    await crm.adapter.log_call(make_call("1700000750.1", "+79161110078", start=datetime.now(UTC)))
    petrov = (await crm.store.clients.list("Петров", limit=1, offset=0))[0][0]
    await crm.store.notes.add_comment(petrov["id"], "Перезвонит после обеда", None)
    await crm.store.deals.update(ids["Картриджи"], {"stage": "Оплата"}, by=None)
    fresh = feed.locator("li.fresh")
    await expect(fresh.filter(has_text="Перезвонит после обеда")).to_have_count(1, timeout=TIMEOUT)
    await expect(fresh.filter(has_text="Сделка «Картриджи»: Новая → Оплата")).to_have_count(
        1, timeout=TIMEOUT
    )
    await expect(fresh.filter(has_text="Входящий звонок, принят")).to_have_count(1, timeout=TIMEOUT)
    assert await page.evaluate("window.__sameFeed === document.querySelector('[data-testid=live-feed]')")
    refs = await feed.locator("li[data-ref]").evaluate_all("items => items.map((li) => li.dataset.ref)")
    assert len(refs) == len(set(refs)) == 6  # the 3 deals made before the page loaded, once each; 3 pushed
    await shot(page, "live-feed-pushed")
    await page.get_by_test_id("feed-kinds").get_by_role("tab", name="Комментарии").click()
    await expect(feed.locator("li[data-kind]").first).to_be_visible(timeout=TIMEOUT)
    await crm.adapter.log_call(make_call("1700000750.2", "+79161110079", start=datetime.now(UTC)))
    await crm.store.notes.add_comment(petrov["id"], "Второй комментарий", None)
    await expect(feed.locator("li.fresh").filter(has_text="Второй комментарий")).to_have_count(
        1, timeout=TIMEOUT
    )
    await expect(feed.locator("li[data-kind=call]")).to_have_count(0)


async def test_the_call_panel_shows_the_caller_and_offers_the_call_buttons(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await _deals(crm)
    petrov = (await crm.store.clients.list("Петров", limit=1, offset=0))[0][0]
    await crm.store.clients.add_phone(petrov["id"], "+79161234567")
    await crm.adapter.log_call(make_call("1700000800.1", "+79161234567"))
    await crm.store.notes.add_comment(petrov["id"], "Ждёт счёт до пятницы", None)
    await crm.store.employees.set_screen_pop((await crm.store.employees.by_extension("202"))["id"], "never")  # type: ignore[index]
    await sign_in(page, crm)
    crm.hub.publish(live(LiveKind.ANSWERED, "+79161234567"))
    panel = page.get_by_test_id("callpanel")
    await expect(page.get_by_test_id("callpanel-name")).to_have_text("Иван Петров", timeout=TIMEOUT)
    await expect(panel).to_contain_text("ООО «Ромашка»")
    await expect(page.get_by_test_id("callpanel-deals")).to_contain_text("Поставка бумаги")
    await expect(page.get_by_test_id("callpanel-calls")).to_contain_text("Звонки (1)")
    await expect(page.get_by_test_id("callpanel-comment")).to_contain_text("Ждёт счёт до пятницы")
    for button in ("cp-hangup", "cp-transfer", "cp-comment", "cp-task", "cp-deal"):
        await expect(panel.get_by_test_id(button)).to_be_visible()
    await shot(page, "call-panel")
    crm.hub.publish(live(LiveKind.ENDED, "+79161234567", exten=None))  # as the tracker says it: no phone
    await expect(page.get_by_test_id("callpanel-state")).to_have_text("Звонок завершён", timeout=TIMEOUT)
    await expect(panel.get_by_test_id("cp-callback")).to_be_visible()
    await expect(panel.get_by_test_id("cp-hangup")).to_have_count(0)
    await shot(page, "call-panel-ended")


async def test_the_analytics_page_has_the_same_header_live_dot_and_screen_pop_setting(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm, "200")
    await page.get_by_test_id("nav-analytics").click()
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "on", timeout=TIMEOUT)
    await expect(page.get_by_test_id("sign-out")).to_be_visible()
    await page.get_by_test_id("me-menu").locator("summary").click()
    await expect(page.get_by_test_id("screen-pop")).to_be_visible()
    await shot(page, "analytics-header")


async def test_a_client_sent_to_the_archive_leaves_the_list_and_reads_as_an_archived_card(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    await sign_in(page, crm, "201")
    await page.get_by_test_id("nav-clients").click()
    rows = page.get_by_test_id("clients").locator("tbody tr")
    await expect(rows).to_have_count(3, timeout=TIMEOUT)
    row = rows.filter(has_text="Иван Петров")
    await row.get_by_test_id("client-archive").click()
    confirm = page.get_by_test_id("confirm")
    await expect(confirm).to_contain_text("все сделки клиента будут удалены", timeout=TIMEOUT)
    await shot(page, "client-archive-confirm")
    await confirm.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("archived-toast")).to_be_visible(timeout=TIMEOUT)
    await expect(rows).to_have_count(2, timeout=TIMEOUT)
    await page.get_by_test_id("clients-kind").get_by_role("tab", name="Архив").click()
    await expect(rows).to_have_count(1, timeout=TIMEOUT)
    await expect(rows.first).to_contain_text("Иван Петров")
    await shot(page, "clients-archive")
    await rows.first.get_by_role("link", name="Иван Петров").click()
    card = page.get_by_test_id("archived-card")
    await expect(card).to_contain_text("в архиве", timeout=TIMEOUT)
    await expect(page.get_by_test_id("card-archive")).to_have_count(0)
    await expect(page.get_by_test_id("client-name-edit")).to_have_count(0)
    await shot(page, "client-archived-card")
    with pytest.raises(NotFoundError):
        await crm.store.deals.get(ids["Поставка бумаги"])


async def test_the_cards_indicators_are_chosen_and_hidden_by_each_person(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    deal = await crm.store.deals.get(ids["Поставка бумаги"])
    client_id = deal["client_id"]
    await crm.store.clients.add_phone(client_id, "+79160009100")
    await crm.adapter.log_call(make_call("95.1", "+79160009100", answered_by="202", talk=300))
    await sign_in(page, crm, "201")
    await page.goto(f"{crm.url}/crm/#/client/{client_id}")
    block = page.get_by_test_id("indicators")
    await expect(block.locator('[data-indicator="calls"] b')).to_have_text("1", timeout=TIMEOUT)
    await expect(block.locator('[data-indicator="open_deals"] b')).to_have_text("1 · 120 000 ₽")
    await shot(page, "card-indicators")
    await block.get_by_test_id("indicators-choose").click()
    dialog = page.get_by_test_id("indicators-dialog")
    await dialog.get_by_test_id("indicator-missed").uncheck()
    await dialog.get_by_test_id("indicator-talk_minutes").check()
    await dialog.get_by_test_id("dialog-submit").click()
    await expect(block.locator('[data-indicator="talk_minutes"] b')).to_have_text("5", timeout=TIMEOUT)
    await expect(block.locator('[data-indicator="missed"]')).to_have_count(0)
    await page.reload()  # the choice is this person's, kept in the browser
    await expect(block.locator('[data-indicator="talk_minutes"]')).to_have_count(1, timeout=TIMEOUT)
    await block.get_by_test_id("indicators-toggle").click()
    await expect(block.locator(".kpi")).to_have_count(0)
    await shot(page, "card-indicators-hidden")


async def test_an_admin_lists_call_outcomes_and_employees_mark_calls_in_the_list_and_the_panel(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm, "200")
    await page.goto(f"{crm.url}/crm/#/settings")
    await page.get_by_test_id("outcomes-text").fill("Продажа\nПерезвонить завтра\nОтказ")
    await page.get_by_test_id("outcomes-save").click()
    await expect(page.get_by_test_id("toast").last).to_contain_text(
        "Итоги звонков сохранены", timeout=TIMEOUT
    )
    await shot(page, "settings-call-outcomes")
    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("login")).to_be_visible(timeout=TIMEOUT)
    await crm.adapter.log_call(make_call("1700000900.1", "+79161230901"))
    await crm.adapter.log_call(make_call("1700000900.2", "+79161230902", start=datetime.now(UTC)))
    await sign_in(page, crm)
    row = page.get_by_test_id("calls").locator('[data-call="1700000900.1"]')
    await row.get_by_test_id("call-outcome").select_option("Продажа")
    await expect(page.get_by_test_id("toast").last).to_contain_text("Итог: Продажа", timeout=TIMEOUT)
    await page.get_by_test_id("filter-outcome").select_option("Продажа")
    rows = page.get_by_test_id("calls").locator("tbody tr")
    await expect(rows).to_have_count(1, timeout=TIMEOUT)
    await expect(rows.first).to_have_attribute("data-call", "1700000900.1")
    await shot(page, "calls-outcome")
    # Right after a call the panel asks what came of it, even before the record is filed.
    crm.hub.publish(live(LiveKind.ANSWERED, "+79161230903", call_id="1700000900.3"))
    crm.hub.publish(live(LiveKind.ENDED, "+79161230903", call_id="1700000900.3"))
    panel = page.get_by_test_id("callpanel")
    await panel.get_by_test_id("cp-outcome").select_option("Перезвонить завтра")
    await crm.adapter.log_call(make_call("1700000900.3", "+79161230903"))
    await expect(page.get_by_test_id("toast").last).to_contain_text(
        "Итог: Перезвонить завтра", timeout=TIMEOUT
    )
    await shot(page, "call-panel-outcome")
    assert (await crm.store.calls.get("1700000900.3"))["outcome"] == "Перезвонить завтра"
    assert (await crm.store.calls.get("1700000900.2"))["outcome"] == ""


async def test_an_admin_exports_clients_with_only_the_fields_she_picked(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await crm.store.clients.create("ООО Вектор", ["+79164440077"], email="info@vector.ru")
    await sign_in(page, crm, "200")
    await page.goto(f"{crm.url}/crm/analytics#import")
    fields = page.get_by_test_id("export-fields")
    await expect(fields).to_be_visible(timeout=TIMEOUT)
    for key in ("id", "company", "inn", "responsible", "lists", "notes", "created_at"):
        await fields.get_by_test_id(f"export-field-{key}").uncheck()
    await shot(page, "export-fields")
    async with page.expect_download(timeout=TIMEOUT) as caught:
        await page.get_by_test_id("export-start").click()
    download = await caught.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8-sig")
    assert text.splitlines() == ["name,phones,email", "ООО Вектор,+79164440077,info@vector.ru"]


async def test_a_client_is_put_in_a_list_from_the_card_and_the_super_filter_finds_the_list(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await _deals(crm)
    petrov = (await crm.store.clients.list("Петров", limit=1, offset=0))[0][0]
    await sign_in(page, crm, "201")
    await page.goto(f"{crm.url}/crm/#/client/{petrov['id']}")
    await page.get_by_test_id("add-list").fill("Выставка 2026")
    await page.get_by_test_id("add-list").press("Enter")
    await expect(page.get_by_test_id("client-list")).to_have_text(["Выставка 2026✕"], timeout=TIMEOUT)
    await shot(page, "card-lists")
    await page.get_by_test_id("nav-clients").click()
    await page.get_by_test_id("filter-open").click()
    dialog = page.get_by_test_id("filter-dialog")
    await dialog.get_by_test_id("filter-field").select_option(label="Список")
    await dialog.get_by_test_id("filter-value").select_option(label="Выставка 2026")
    await dialog.get_by_test_id("dialog-submit").click()
    rows = page.get_by_test_id("clients").locator("tbody tr")
    await expect(rows).to_have_count(1, timeout=TIMEOUT)
    await expect(rows.first).to_contain_text("Иван Петров")
    await expect(page.get_by_test_id("filter-chips")).to_contain_text("входит в список «Выставка 2026»")
    await shot(page, "clients-filtered-by-list")


async def test_a_colleague_mentioned_in_a_comment_is_told_at_once_and_opens_the_card_from_the_toast(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    eva = await crm.store.employees.by_extension("203")
    assert eva is not None
    client = await crm.store.clients.create("Вера Клиентова", ["+79160000051"], responsible_id=eva["id"])
    await sign_in(page, crm, "201")
    colleague = await page.context.browser.new_page(locale="ru-RU")  # a second browser, signed in as Ева
    try:
        await sign_in(colleague, crm, "203")
        await page.goto(f"{crm.url}/crm/#/client/{client}")
        text = page.get_by_test_id("comment-text")
        await text.press_sequentially("Клиент просит счёт, @Ев")
        option = page.get_by_test_id("mention-list").get_by_test_id("mention-option")
        await expect(option).to_have_text(
            ["ЕСЕва Сотрудник"], timeout=TIMEOUT
        )  # avatar initials, then the name
        await shot(page, "card-comment-mention-picker")
        await option.click()
        await expect(text).to_have_value("Клиент просит счёт, @Ева Сотрудник ")
        await text.press_sequentially("выставь, пожалуйста")
        await page.get_by_test_id("comment-save").click()
        await expect(page.get_by_test_id("mention-told")).to_contain_text(
            "Уведомлены: Ева Сотрудник", timeout=TIMEOUT
        )
        mention = page.get_by_test_id("feed").locator(".feed-comment .mention")
        await expect(mention).to_have_text("@Ева Сотрудник", timeout=TIMEOUT)
        await shot(page, "card-comment-mention")

        toast = colleague.get_by_test_id("mention-toast")
        await expect(toast).to_contain_text("Марк Менеджер упоминает вас", timeout=TIMEOUT)
        await expect(toast).to_contain_text("выставь, пожалуйста — Вера Клиентова")
        await expect(colleague.locator("#bell-count")).to_have_text("1")
        await shot(colleague, "mention-toast")
        await toast.get_by_role("button", name="Открыть").click()
        await expect(colleague.get_by_test_id("feed").locator(".feed-comment .mention")).to_have_text(
            "@Ева Сотрудник", timeout=TIMEOUT
        )
        await expect(colleague.locator("#bell-count")).to_be_hidden(timeout=TIMEOUT)  # read: no longer due
        await shot(colleague, "mention-opened")
        seen = await crm.store.db.fetch_all("SELECT employee_id, seen FROM comment_mentions")
        assert seen == [{"employee_id": eva["id"], "seen": 1}]
    finally:
        await colleague.close()


async def test_an_admin_adds_a_field_to_tasks_and_the_assignee_fills_it_in_the_tasks_card(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    egor = await crm.store.employees.by_extension("202")
    assert egor is not None
    client = await crm.store.clients.create("Олег Сидоров", ["+79160000061"], responsible_id=egor["id"])
    task = await crm.store.notes.add_task(
        {"title": "Привезти котёл", "client_id": client, "assignee_id": egor["id"]}, None
    )
    await sign_in(page, crm, "200")
    await page.goto(f"{crm.url}/crm/#/settings")
    await page.get_by_test_id("fields-entity").get_by_text("Задача").click()
    await page.get_by_test_id("field-add").click()
    await page.get_by_test_id("field-label").fill("Вид работ")
    await page.get_by_test_id("field-kind").select_option(label="Список")
    await page.get_by_test_id("field-options").fill("Монтаж\nДоставка")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("fields-admin")).to_contain_text("Вид работ", timeout=TIMEOUT)
    await shot(page, "settings-task-fields")

    assignee = await page.context.browser.new_page(locale="ru-RU", viewport={"width": 1400, "height": 900})
    try:
        await sign_in(assignee, crm, "202")
        await assignee.get_by_test_id("nav-tasks").click()
        await assignee.locator(f'[data-task="{task["id"]}"]').get_by_test_id("task-open").click()
        card = assignee.get_by_test_id("task-card-dialog")
        await expect(card).to_contain_text("Олег Сидоров", timeout=TIMEOUT)
        block = card.get_by_test_id("task-fields")
        await block.locator('[data-label="Вид работ"]').click()
        await block.locator("select").select_option("Доставка")
        await expect(block.locator('[data-label="Вид работ"]')).to_have_text("Доставка", timeout=TIMEOUT)
        await shot(assignee, "task-card-fields")
    finally:
        await assignee.close()
    [(value,)] = [
        (r["value"],)
        for r in await crm.store.custom.of_record("task", task["id"])
        if r["label"] == "Вид работ"
    ]
    assert value == "Доставка"


async def test_a_column_of_the_clients_list_is_widened_by_its_edge_and_stays_so(
    page: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await _deals(crm)
    await sign_in(page, crm, "201")
    await page.get_by_test_id("nav-clients").click()
    header = page.get_by_test_id("clients").locator("th", has_text="Компания")
    await expect(header).to_be_visible(timeout=TIMEOUT)
    before = (await header.bounding_box())["width"]
    grip = await header.get_by_test_id("col-grip").bounding_box()
    x, y = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x + 80, y, steps=5)
    await page.mouse.move(x + 150, y, steps=5)
    await page.mouse.up()
    widened = (await header.bounding_box())["width"]
    assert abs(widened - (before + 150)) <= 3, (before, widened)
    await shot(page, "clients-column-widened")
    await page.reload()
    header = page.get_by_test_id("clients").locator("th", has_text="Компания")
    await expect(header).to_be_visible(timeout=TIMEOUT)
    assert abs((await header.bounding_box())["width"] - widened) <= 1  # kept for this browser
    await header.get_by_test_id("col-grip").dblclick()
    assert abs((await header.bounding_box())["width"] - before) <= 1
    assert await page.evaluate("localStorage.getItem('crm.widths.clients')") == "{}"


async def test_a_contract_is_attached_to_a_deal_in_its_file_field_and_downloads_again(
    page: Any, crm: CrmServer, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    _, ids = await _deals(crm)
    field = await crm.store.custom.define("deal", "Договор", "file")
    contract = tmp_path / "Договор поставки.pdf"
    contract.write_bytes(b"%PDF-1.4 contract " + bytes(range(256)) * 64)
    await sign_in(page, crm, "201")
    await page.goto(f"{crm.url}/crm/#/deals?deal={ids['Поставка бумаги']}")
    block = page.get_by_test_id("deal-card-dialog").get_by_test_id("deal-fields")
    await expect(block.get_by_test_id(f"field-{field['id']}")).to_contain_text("Нет файла", timeout=TIMEOUT)
    await block.get_by_test_id(f"field-{field['id']}-file").set_input_files(str(contract))
    link = block.get_by_test_id(f"field-{field['id']}-download")
    await expect(link).to_have_text("Договор поставки.pdf", timeout=TIMEOUT)
    await shot(page, "deal-file-field")
    async with page.expect_download() as downloading:
        await link.click()
    saved = tmp_path / "downloaded.pdf"
    await (await downloading.value).save_as(saved)
    assert saved.read_bytes() == contract.read_bytes()

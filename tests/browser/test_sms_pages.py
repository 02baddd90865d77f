"""SMS in a real browser: the card's counter as one types, sending, the status changing in the feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.builtin import sms_service
from adapters.builtin.sms_text import count
from adapters.builtin.store import Store
from tests.browser.test_crm_pages import TIMEOUT, shot, sign_in
from tests.fakes.smsc import FakeSmsc
from tests.unit.builtin.helpers import CrmServer, crm_server
from tests.unit.sms.conftest import sms_settings

pytestmark = pytest.mark.browser


@pytest.fixture
async def smsc() -> AsyncIterator[FakeSmsc]:
    fake = FakeSmsc()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def crm_sms(tmp_path: Path, smsc: FakeSmsc) -> AsyncIterator[CrmServer]:
    """The CRM with SMS through the fake SMSC.ru and its sender running."""

    def prepare(app: web.Application, store: Store) -> None:
        sms_service.configure(app, sms_settings(smsc, rate=20.0), store.sms)

    async with crm_server(tmp_path, prepare=prepare) as running:
        yield running


def expected(text: str) -> str:
    """The counter line, from the server's own count (so page and server must agree)."""
    c = count(text)
    alphabet = "латиница: 160 в одном СМС" if c.encoding == "gsm7" else "кириллица: 70 в одном СМС"
    return f"{c.segments} СМС · осталось {c.left} · {alphabet}"


async def test_the_card_counts_segments_while_typing_and_the_feed_follows_the_status(
    page: Any, crm_sms: CrmServer, smsc: FakeSmsc
) -> None:
    from playwright.async_api import expect

    client = await crm_sms.store.clients.create("Вера Смирнова", ["+79161112233"])
    await sign_in(page, crm_sms)
    await page.goto(f"{crm_sms.url}/crm/#/client/{client}")
    await page.locator("[data-testid=composer-tabs] [data-key=sms]").click()
    text, counter = page.get_by_test_id("sms-text"), page.get_by_test_id("sms-counter")
    texts = ("Hello! Your order is ready." * 6, "я" * 71, "Здравствуйте! Ваш заказ готов, ждём вас до 20:00.")
    for typed in texts:
        await text.fill(typed)
        await expect(counter).to_have_text(expected(typed))
    await shot(page, "sms-card-counter")
    await page.get_by_test_id("sms-send").click()
    status = page.get_by_test_id("feed").get_by_test_id("sms-status")
    await expect(status).to_have_attribute("data-status", "sent", timeout=TIMEOUT)
    assert smsc.sent_to("+79161112233") == 1

    smsc.deliver(smsc.sends[0].id, "+79161112233", 1)
    await crm_sms.store.db.write("UPDATE sms_messages SET check_at = '2000-01-01T00:00:00Z'")  # time passes
    crm_sms.app[sms_service.SMS_KEY].wake()
    await expect(status).to_have_attribute("data-status", "delivered", timeout=TIMEOUT)
    await expect(status).to_have_text("доставлено")
    await shot(page, "sms-card-delivered")


async def test_a_manager_makes_a_mailing_sees_its_cost_first_and_follows_it(
    page: Any, crm_sms: CrmServer, smsc: FakeSmsc
) -> None:
    from playwright.async_api import expect

    for i in range(3):
        await crm_sms.store.clients.create(f"Покупатель {i}", [f"+7916222000{i}"])
    await crm_sms.store.clients.create("Без номера")
    await sign_in(page, crm_sms, "201")
    await page.get_by_test_id("nav-sms").click()
    await page.get_by_test_id("new-mailing").click()
    await page.get_by_test_id("mailing-name").fill("Скидки декабря")
    await page.get_by_test_id("mailing-text").fill("Магазин Электроника. Скидка 30% на всё до 1 декабря!")
    await page.get_by_test_id("mailing-calc").click()
    estimate = page.get_by_test_id("mailing-estimate")
    await expect(estimate).to_contain_text("3 получателя · 3 СМС (1 на каждого) · ≈ 7,5 ₽")
    await expect(estimate).to_contain_text("без номера: 1")
    await shot(page, "sms-mailing-dialog")
    assert smsc.sends == []  # the estimate sent nothing
    await page.get_by_test_id("dialog-submit").click()
    recipients = page.get_by_test_id("mailing-recipients")
    await expect(recipients.get_by_text("отправлено", exact=True)).to_have_count(3, timeout=TIMEOUT)
    done = page.get_by_test_id("mailing").get_by_text("Отправлена", exact=True)
    await expect(done).to_be_visible(timeout=TIMEOUT)
    assert sorted(m.phone for m in smsc.sends) == ["79162220000", "79162220001", "79162220002"]
    await shot(page, "sms-mailing-sent")


async def test_the_mailing_form_offers_the_clients_fields_and_previews_the_first_recipients_sms(
    page: Any, crm_sms: CrmServer, smsc: FakeSmsc
) -> None:
    from playwright.async_api import expect

    company = await crm_sms.store.companies.create("Ромашка")
    await crm_sms.store.clients.create("Ольга", ["+79162220010"], company_id=company)
    await crm_sms.store.clients.create("", ["+79162220011"])
    await crm_sms.store.custom.define("client", "Город", "text")
    await sign_in(page, crm_sms, "201")
    await page.get_by_test_id("nav-sms").click()
    await page.get_by_test_id("new-mailing").click()
    fields = page.get_by_test_id("mailing-fields")
    await expect(fields.get_by_role("button", name="{Город}")).to_be_visible()
    text = page.get_by_test_id("mailing-text")
    await text.fill("Здравствуйте, {фамилия}!")
    await page.get_by_test_id("mailing-calc").click()
    await expect(page.get_by_test_id("mailing-estimate")).to_contain_text(
        "неизвестные поля в тексте: {фамилия}"
    )
    await text.fill("Здравствуйте, ")
    await fields.get_by_role("button", name="{имя}").click()  # put at the cursor, at the end
    await text.press("End")
    await text.type(" из {компания|вашей компании}!")
    await page.get_by_test_id("mailing-calc").click()
    await expect(page.get_by_test_id("mailing-preview-text")).to_have_text("Здравствуйте, Ольга из Ромашка!")
    await expect(page.get_by_test_id("mailing-estimate")).to_contain_text(
        "2 получателя · 2 СМС (1 на каждого)"
    )
    await shot(page, "sms-mailing-preview")
    assert smsc.sends == []

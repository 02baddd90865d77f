"""The mailbox in a real browser: a client's letter (from a real Dovecot) read on the card and answered.

The answer goes through the queue to a real SMTP server (aiosmtpd) and is checked there; the
screenshots of each state are under tests/artifacts/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from adapters.builtin.routes_mail import WORKER_KEY
from tests.browser.test_crm_pages import TIMEOUT, shot, sign_in
from tests.unit.builtin.helpers import CrmServer
from tests.unit.mail.servers import QUIET_AUTH, Dovecot, Smtp, dovecot_server, smtp_server

pytestmark = [pytest.mark.browser, QUIET_AUTH]


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with smtp_server() as running:
        yield running


async def test_a_clients_letter_is_read_on_the_card_and_answered(
    page: Any, crm: CrmServer, dovecot: Dovecot, smtp: Smtp
) -> None:
    from playwright.async_api import expect

    client = await crm.store.clients.create("Иван Петров", ["+79161234567"], email="ivan@romashka.ru")
    box = await crm.store.mail.add_mailbox({
        "address": dovecot.user, "login": dovecot.user, "secret": dovecot.password,
        "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
    })  # fmt: skip
    msg = EmailMessage()
    msg["From"] = "Иван Петров <ivan@romashka.ru>"
    msg["To"] = dovecot.user
    msg["Subject"] = "Счёт на оплату № 17"
    msg["Message-ID"] = "<q17@romashka.ru>"
    msg.set_content("Добрый день!\nПришлите, пожалуйста, акт сверки за ноябрь.")
    msg.add_attachment("итого;100\n".encode(), maintype="text", subtype="csv", filename="счёт 17.csv")
    dovecot.deliver(msg)
    await crm.app[WORKER_KEY].check(box["id"])

    await sign_in(page, crm, "202")
    await page.goto(f"{crm.url}/crm/#/client/{client}")
    letter = page.get_by_test_id("feed").locator('li[data-kind="mail"]')
    await expect(letter).to_contain_text("Счёт на оплату № 17", timeout=TIMEOUT)
    await expect(letter).to_contain_text("входящее")
    await shot(page, "mail-card-feed")

    await letter.get_by_test_id("feed-open-letter").click()
    dialog = page.get_by_test_id("letter-dialog")
    await expect(dialog.get_by_test_id("letter-body")).to_contain_text(
        "акт сверки за ноябрь", timeout=TIMEOUT
    )
    await expect(dialog.get_by_test_id("letter-files")).to_contain_text("счёт 17.csv")
    await shot(page, "mail-letter-open")

    await dialog.get_by_test_id("letter-reply").click()
    await dialog.get_by_test_id("letter-text").fill("Иван, добрый день! Акт сверки во вложении.")
    await shot(page, "mail-reply-written")
    await dialog.get_by_test_id("letter-send").click()
    for _ in range(500):  # bounded wait for the worker to hand it to the SMTP server
        if smtp.recorder.received:
            break
        await asyncio.sleep(0.02)
    [got] = smtp.recorder.received
    sent = got["message"]
    assert got["to"] == ["ivan@romashka.ru"]
    assert sent["Subject"] == "Re: Счёт на оплату № 17" and sent["In-Reply-To"] == "<q17@romashka.ru>"
    assert sent.get_body(("plain",)).get_content().strip() == "Иван, добрый день! Акт сверки во вложении."

    outgoing = page.get_by_test_id("feed").locator('li[data-kind="mail"]', has_text="исходящее")
    await expect(outgoing).to_contain_text("Re: Счёт на оплату № 17", timeout=TIMEOUT)
    await page.reload()
    await expect(outgoing).to_contain_text("отправлено", timeout=TIMEOUT)
    await shot(page, "mail-card-answered")

    await page.get_by_test_id("nav-mail").click()
    await expect(page.get_by_test_id("letters")).to_contain_text("Счёт на оплату № 17", timeout=TIMEOUT)
    await shot(page, "mail-section")


async def test_the_admin_connects_a_mailbox_with_its_servers_and_switches_it_off(
    page: Any, crm: CrmServer, dovecot: Dovecot, smtp: Smtp
) -> None:
    from playwright.async_api import expect

    msg = EmailMessage()
    msg["From"] = "Ольга Смирнова <olga@newco.ru>"
    msg["Subject"] = "Сколько стоит доставка?"
    msg.set_content("Добрый день! Сколько стоит доставка в Казань?")
    dovecot.deliver(msg)
    await sign_in(page, crm, "200")
    await page.goto(f"{crm.url}/crm/#/mail")
    await page.get_by_test_id("mail-connect").click()
    dialog = page.get_by_test_id("mailbox-dialog")
    await dialog.get_by_test_id("mailbox-address").fill(dovecot.user)
    await dialog.get_by_test_id("mailbox-password").fill(dovecot.password)
    await dialog.locator("summary").click()
    for name, value in (("imap_host", "127.0.0.1"), ("imap_port", str(dovecot.port)),
                        ("smtp_host", "127.0.0.1"), ("smtp_port", str(smtp.port))):  # fmt: skip
        await dialog.locator(f'[name="{name}"]').fill(value)
    for name in ("imap_security", "smtp_security"):
        await dialog.locator(f'select[name="{name}"]').select_option("none")
    await shot(page, "mail-connect-dialog")
    await dialog.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("mailbox-table")).to_contain_text(dovecot.user, timeout=TIMEOUT)
    await page.get_by_test_id("mailbox-check").click()
    await page.get_by_test_id("mail-tabs").get_by_text("От неизвестных").click()
    await expect(page.get_by_test_id("letters")).to_contain_text("Сколько стоит доставка?", timeout=TIMEOUT)
    await expect(page.get_by_test_id("mailbox-table")).to_contain_text("проверено", timeout=TIMEOUT)
    await shot(page, "mail-connected")
    [box] = await crm.store.mail.mailboxes()
    assert box["password_stored"] == 1 and box["imap_port"] == dovecot.port

    await page.get_by_test_id("mail-templates").click()
    templates = page.get_by_test_id("templates-dialog")
    await templates.get_by_test_id("template-name").fill("Стоимость доставки")
    await templates.get_by_test_id("template-subject").fill("Доставка для {{компания}}")
    await templates.get_by_test_id("template-body").fill("{{клиент}}, доставка в ваш город — 500 ₽.")
    await templates.get_by_test_id("template-save").click()
    listed = templates.get_by_test_id("template-list")
    await expect(listed).to_contain_text("Стоимость доставки", timeout=TIMEOUT)
    await shot(page, "mail-templates")
    await page.keyboard.press("Escape")
    assert [t["subject"] for t in await crm.store.mail.templates()] == ["Доставка для {{компания}}"]

    await page.get_by_test_id("mailbox-toggle").click()
    await page.get_by_test_id("confirm").get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("mailbox-table")).to_contain_text("отключён", timeout=TIMEOUT)
    await expect(page.get_by_test_id("letters")).to_contain_text("Сколько стоит доставка?")
    await shot(page, "mail-switched-off")
    assert not (await crm.store.mail.mailboxes())[0]["enabled"]

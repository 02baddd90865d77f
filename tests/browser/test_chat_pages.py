"""Chats in a real browser: two signed-in employees talk (docs/chats.md).

Егор (202) and Ева (203) each have their own browser context; everything one does reaches the
other over the live socket: the unread badge, a mention's toast, a reply, an edit, a reaction and
a task made from a message. Full-page screenshots of both sides go under tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_crm_pages import TIMEOUT, shot, sign_in
from tests.unit.builtin.helpers import CrmServer

pytestmark = pytest.mark.browser


@pytest.fixture
async def other(page: Any) -> AsyncIterator[Any]:
    """A second person's page in its own browser context (its own session cookie)."""
    context = await page.context.browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the second page: {errors}"


async def _both_signed_in(page: Any, other: Any, crm: CrmServer) -> None:
    await sign_in(page, crm, "202")
    await sign_in(other, crm, "203")
    await crm.hub.wait_for_subscribers(2)


async def _start_direct_chat(page: Any) -> None:
    """Егор opens «Чаты» and starts a one-to-one chat with Ева."""
    from playwright.async_api import expect

    await page.get_by_test_id("nav-chats").click()
    await expect(page.get_by_test_id("chats-page")).to_be_visible(timeout=TIMEOUT)
    await page.get_by_test_id("new-chat").click()
    await page.get_by_test_id("chat-kind").select_option("direct")
    await page.locator('[data-testid="chat-member"][data-name="Ева Сотрудник"]').check()
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Ева Сотрудник", timeout=TIMEOUT)


async def test_two_employees_talk_with_a_mention_reply_edit_reaction_and_a_task(
    page: Any, other: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await _both_signed_in(page, other, crm)
    await _start_direct_chat(page)
    composer = page.get_by_test_id("composer")
    await composer.fill("Привет, @Ев")
    await page.get_by_test_id("mention-option").filter(has_text="Ева Сотрудник").click()
    await composer.press_sequentially("посмотри счёт для «Ромашки»")
    await composer.press("Enter")
    await expect(page.get_by_test_id("message")).to_have_count(1, timeout=TIMEOUT)
    mine = page.locator(
        f'[data-message="{await page.get_by_test_id("message").get_attribute("data-message")}"]'
    )
    await expect(mine.get_by_test_id("message-text")).to_have_text(
        "Привет, @Ева Сотрудник посмотри счёт для «Ромашки»", timeout=TIMEOUT
    )
    # Ева, on the calls page: the badge says a mention waits, and a toast tells her who
    await expect(other.get_by_test_id("chats-unread")).to_have_text("@1", timeout=TIMEOUT)
    await expect(other.get_by_test_id("chat-mention")).to_contain_text(
        "Егор Сотрудник упоминает вас", timeout=TIMEOUT
    )
    await shot(other, "chats-mention-toast")
    await other.get_by_test_id("nav-chats").click()
    item = other.get_by_test_id("chat-item").first
    await expect(item.get_by_test_id("chat-unread")).to_have_text("1", timeout=TIMEOUT)
    await item.click()
    theirs = other.get_by_test_id("message").last
    await expect(theirs.get_by_test_id("message-text")).to_contain_text("посмотри счёт", timeout=TIMEOUT)
    await expect(other.get_by_test_id("chats-unread")).to_be_hidden(timeout=TIMEOUT)  # read on opening
    # she answers it; Егор sees the answer with its quote at once
    await theirs.get_by_test_id("reply").click()
    await other.get_by_test_id("composer").fill("Смотрю, через час пришлю правки")
    await other.get_by_test_id("send").click()
    answer = page.get_by_test_id("message").last
    await expect(answer.get_by_test_id("message-text")).to_have_text(
        "Смотрю, через час пришлю правки", timeout=TIMEOUT
    )
    await expect(answer.get_by_test_id("reply-quote")).to_contain_text("посмотри счёт")
    # Егор corrects his message; Ева sees it changed
    await mine.get_by_test_id("edit").click()
    await page.get_by_test_id("edit-text").fill(
        "Привет, @Ева Сотрудник посмотри счёт и договор для «Ромашки»"
    )
    await page.get_by_test_id("dialog-submit").click()
    first = other.locator(f'[data-message="{await mine.get_attribute("data-message")}"]')  # Ева's view of it
    await expect(first.get_by_test_id("message-text")).to_contain_text("счёт и договор", timeout=TIMEOUT)
    await expect(first.get_by_test_id("edited")).to_be_visible()
    # Ева puts 👍 on it; Егор sees the reaction
    await first.get_by_test_id("react-👍").click()
    await expect(mine.locator('[data-testid="reaction"][data-emoji="👍"]')).to_contain_text(
        "1", timeout=TIMEOUT
    )
    # and makes a task of it for Егор: the message shows the task, the task is in the CRM
    await first.get_by_test_id("make-task").click()
    await other.get_by_test_id("dialog-submit").click()
    await expect(first.get_by_test_id("task-chip")).to_contain_text("Задача: Привет", timeout=TIMEOUT)
    await expect(mine.get_by_test_id("task-chip")).to_be_visible(timeout=TIMEOUT)
    egor = await crm.store.employees.by_extension("202")
    assert egor is not None
    tasks, _ = await crm.store.notes.tasks(egor["id"], False, limit=10, offset=0)
    assert [t["title"] for t in tasks] == ["Привет, @Ева Сотрудник посмотри счёт и договор для «Ромашки»"]
    await shot(page, "chats-egor")
    await shot(other, "chats-eva")


async def test_a_channel_is_read_by_all_and_written_by_its_owner_only(
    page: Any, other: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm, "200")  # Анна, the admin, makes a company channel
    await sign_in(other, crm, "202")
    await crm.hub.wait_for_subscribers(2)
    await page.get_by_test_id("nav-chats").click()
    await page.get_by_test_id("new-chat").click()
    await page.get_by_test_id("chat-kind").select_option("channel")
    await page.get_by_test_id("chat-name").fill("Новости компании")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Новости компании", timeout=TIMEOUT)
    await page.get_by_test_id("composer").fill("С понедельника действует новый прайс на картриджи")
    await page.get_by_test_id("send").click()
    await expect(page.get_by_test_id("message")).to_have_count(1, timeout=TIMEOUT)
    # Егор is no member: he finds the public channel, reads it, subscribes, but may not post
    await other.get_by_test_id("nav-chats").click()
    await other.get_by_test_id("chat-item").filter(has_text="Новости компании").click()
    await expect(other.get_by_test_id("message-text")).to_have_text(
        "С понедельника действует новый прайс на картриджи", timeout=TIMEOUT
    )
    await other.get_by_test_id("join-channel").click()
    await expect(other.get_by_test_id("join-channel")).to_have_count(0, timeout=TIMEOUT)
    await expect(other.get_by_test_id("composer-readonly")).to_have_text(
        "В канал пишут только его владелец и админы.", timeout=TIMEOUT
    )
    await page.get_by_test_id("composer").fill("Планёрка в 10:00")
    await page.get_by_test_id("send").click()
    await expect(other.get_by_test_id("message")).to_have_count(2, timeout=TIMEOUT)
    await shot(other, "chats-channel-reader")
    await other.screenshot(path=str(ARTIFACTS / "chats-channel-reader-viewport.png"))


async def test_a_muted_group_leaves_the_badge_and_is_renamed_for_everyone(
    page: Any, other: Any, crm: CrmServer
) -> None:
    from playwright.async_api import expect

    egor = await crm.store.employees.by_extension("202")
    eva = await crm.store.employees.by_extension("203")
    assert egor is not None and eva is not None
    await _both_signed_in(page, other, crm)
    await other.get_by_test_id("nav-chats").click()
    await page.get_by_test_id("nav-chats").click()
    await page.get_by_test_id("new-chat").click()
    await page.get_by_test_id("chat-kind").select_option("group")
    await page.get_by_test_id("chat-name").fill("Склад")
    await page.locator('[data-testid="chat-member"][data-name="Ева Сотрудник"]').check()
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Склад", timeout=TIMEOUT)
    item = other.locator('[data-testid="chat-item"]', has_text="Склад")
    await item.click()
    await other.get_by_test_id("chat-mute").click()
    await expect(other.get_by_test_id("chat-mute")).to_have_text("Включить звук", timeout=TIMEOUT)
    await other.get_by_test_id("nav-calls").click()  # away from the chat: its messages stay unread
    for text in ("Машина пришла", "Разгружаем в 14:00"):
        await page.get_by_test_id("composer").fill(text)
        await page.get_by_test_id("composer").press("Enter")
    await expect(page.get_by_test_id("message")).to_have_count(2, timeout=TIMEOUT)
    await other.get_by_test_id("nav-chats").click()
    await expect(item.get_by_test_id("chat-unread")).to_have_text("2", timeout=TIMEOUT)
    await expect(item.get_by_test_id("chat-muted")).to_be_visible()
    await expect(other.get_by_test_id("chats-unread")).to_be_hidden()  # the badge leaves a muted chat out
    await shot(other, "chats-muted")
    await page.get_by_test_id("chat-rename").click()
    await page.get_by_test_id("chat-title-input").fill("Склад на Лесной")
    await page.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Склад на Лесной", timeout=TIMEOUT)
    await expect(other.locator('[data-testid="chat-item"]', has_text="Склад на Лесной")).to_be_visible(
        timeout=TIMEOUT
    )
    await shot(page, "chats-renamed")

"""The built-in CRM's pages in a real browser: sign in, calls arriving, screen pop, comments, audio."""

from __future__ import annotations

import math
import struct
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connector.calls.model import Direction, LiveEvent, LiveKind
from tests.browser.conftest import ARTIFACTS
from tests.unit.builtin.helpers import LOGINS, CrmServer, make_call

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms; generous for a loaded CI machine (an upper bound, not a timing assertion)


async def sign_in(page: Any, crm: CrmServer, ext: str = "202") -> None:
    """Sign in through the form and wait for the calls list and the live connection."""
    from playwright.async_api import expect

    await page.goto(f"{crm.url}/crm/")
    login, password = LOGINS[ext]
    await page.get_by_test_id("login").fill(login)
    await page.get_by_test_id("password").fill(password)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("calls")).to_be_visible(timeout=TIMEOUT)
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "on", timeout=TIMEOUT)
    await crm.hub.wait_for_subscribers(1)


def live(kind: LiveKind, client: str, exten: str | None = "202", call_id: str = "1700000100.1") -> LiveEvent:
    return LiveEvent(
        kind, call_id, datetime.now(UTC), Direction.INBOUND, client, exten=exten, did="74951110001"
    )


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_signing_in_with_login_and_password_shows_the_calls_list(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await page.goto(f"{crm.url}/crm/")
    await shot(page, "sign-in")
    await sign_in(page, crm)
    await expect(page.get_by_test_id("me-name")).to_have_text("Егор Сотрудник (202)")
    await shot(page, "calls-empty")


async def test_a_wrong_password_is_refused_on_the_sign_in_page(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await page.goto(f"{crm.url}/crm/")
    await page.get_by_test_id("login").fill("egor")
    await page.get_by_test_id("password").fill("не тот пароль совсем")
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("login-error")).to_have_text(
        "Неверный логин или пароль", timeout=TIMEOUT
    )


async def test_a_finished_call_appears_in_the_list(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm)
    await crm.adapter.log_call(make_call("1700000200.1", "+79161110022"))
    crm.hub.publish(live(LiveKind.ENDED, "+79161110022", call_id="1700000200.1"))
    row = page.locator('tr[data-call="1700000200.1"]')
    await expect(row).to_contain_text("+7 916 111-00-22", timeout=TIMEOUT)
    await expect(row).to_contain_text("Новый номер")
    await expect(row).to_contain_text("Егор Сотрудник")  # the employee's name, not extension 202
    await shot(page, "calls-list")


async def test_screen_pop_opens_the_known_callers_card(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    client_id = await crm.store.clients.create("ООО Ромашка", ["+79165550011"])
    await sign_in(page, crm)
    crm.hub.publish(live(LiveKind.RINGING, "+79165550011"))
    await expect(page).to_have_url(f"{crm.url}/crm/#/client/{client_id}", timeout=TIMEOUT)
    await expect(page.get_by_test_id("card-title")).to_have_text("ООО Ромашка")
    await shot(page, "screen-pop-known")


async def test_screen_pop_opens_an_empty_card_for_an_unknown_number(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm)
    crm.hub.publish(live(LiveKind.RINGING, "89167770033"))
    phones = page.get_by_test_id("card-phones")
    await expect(phones).to_have_attribute("data-values", "+79167770033", timeout=TIMEOUT)
    await expect(phones).to_contain_text("+7 916 777-00-33")
    await expect(page.get_by_test_id("client-name")).to_have_value("")
    # the feed is there at once for a new number, and a comment can be left before saving
    await page.get_by_test_id("comment-text").fill("Спрашивал про доставку")
    await page.get_by_test_id("comment-save").click()
    await expect(page.get_by_test_id("feed")).to_contain_text("Спрашивал про доставку", timeout=TIMEOUT)
    await shot(page, "screen-pop-unknown")


async def test_screen_pop_set_to_answer_waits_for_the_answer(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    client_id = await crm.store.clients.create("Вера", ["+79165550044"])
    await sign_in(page, crm)
    saved = lambda r: r.url.endswith("/api/crm/me") and r.request.method == "PATCH"  # noqa: E731
    async with page.expect_response(saved) as response:
        await page.get_by_test_id("me-menu").locator("summary").click()
        await page.get_by_test_id("screen-pop").select_option("answer")
    assert (await (await response.value).json())["screen_pop"] == "answer"
    crm.hub.publish(live(LiveKind.RINGING, "+79165550044"))
    await expect(page.get_by_test_id("callpanel-name")).to_have_text("Вера", timeout=TIMEOUT)
    await expect(page.get_by_test_id("callpanel-state")).to_have_text("Входящий звонок")
    assert "#/client/" not in page.url  # the ringing event was shown, and did not open the card
    crm.hub.publish(live(LiveKind.ANSWERED, "+79165550044"))
    await expect(page).to_have_url(f"{crm.url}/crm/#/client/{client_id}", timeout=TIMEOUT)


async def test_a_comment_added_on_the_card_shows_in_the_feed(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    client_id = await crm.store.clients.create("Павел", ["+79165550055"])
    await sign_in(page, crm)
    await page.goto(f"{crm.url}/crm/#/client/{client_id}")
    await expect(page.get_by_test_id("card-title")).to_have_text("Павел", timeout=TIMEOUT)
    await page.get_by_test_id("comment-text").fill("Просит перезвонить после обеда")
    await page.get_by_test_id("comment-save").click()
    await expect(page.get_by_test_id("feed")).to_contain_text(
        "Просит перезвонить после обеда", timeout=TIMEOUT
    )
    await shot(page, "client-card")


def _tone(path: Path, seconds: float = 2.0, rate: int = 8000) -> None:
    """A real WAV file: a 440 Hz tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


async def test_a_recording_plays_and_seeks_in_the_calls_list(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    recording = crm.links.root / "2026" / "11" / "20" / "call-1.wav"
    _tone(recording)
    await crm.adapter.log_call(make_call("1700000300.1", "+79161110033", recording=str(recording)))
    partial: list[int] = []
    page.on("response", lambda r: partial.append(r.status) if "/recordings/" in r.url else None)
    await sign_in(page, crm)
    player = page.get_by_test_id("player").first
    await expect(player).to_be_visible(timeout=TIMEOUT)
    await player.evaluate("a => a.play()")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=player]').currentTime > 0", timeout=TIMEOUT
    )
    await player.evaluate("a => { a.currentTime = 1.5; }")
    await page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=player]');"
        " return !a.seeking && a.currentTime >= 1.5; }",
        timeout=TIMEOUT,
    )
    await shot(page, "recording-playing")
    assert 206 in partial  # the player asked for byte ranges and got them


async def test_the_tasks_page_groups_overdue_and_upcoming_tasks(page: Any, crm: CrmServer) -> None:
    from datetime import timedelta

    from playwright.async_api import expect

    me = await crm.store.employees.by_extension("202")
    assert me is not None
    now = datetime.now(UTC)
    for title, deadline in (("Просрочено", now - timedelta(days=1)), ("Скоро", now + timedelta(days=3))):
        fields = {"title": title, "assignee_id": me["id"], "deadline": deadline.isoformat()}
        await crm.store.notes.add_task(fields, me["id"])
    await sign_in(page, crm)
    await page.get_by_test_id("nav-tasks").click()
    groups = page.locator("#task-groups")
    await expect(groups).to_contain_text("Просроченные (1)", timeout=TIMEOUT)
    await expect(groups).to_contain_text("Ближайшие 7 дней (1)")
    await shot(page, "tasks")


async def test_the_clients_page_finds_a_client_by_phone_digits(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await crm.store.clients.create("ООО Вектор", ["+79164440011"])
    await crm.store.clients.create("ИП Смирнов", ["+79165550022"])
    await sign_in(page, crm)
    await page.get_by_test_id("nav-clients").click()
    rows = page.get_by_test_id("clients").locator("tbody tr")
    await expect(rows).to_have_count(2, timeout=TIMEOUT)
    for typed in ("4440011", "89164440011", "+7 916 444-00-11", "916 444"):
        await page.get_by_test_id("clients-search").fill(typed)
        await expect(rows).to_have_count(1, timeout=TIMEOUT)
        await expect(rows.first).to_contain_text("ООО Вектор")
    await shot(page, "clients")


async def test_an_unknown_callers_card_is_saved_as_a_new_client(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm)
    crm.hub.publish(live(LiveKind.RINGING, "+79167770066"))
    await expect(page.get_by_test_id("card-phones")).to_have_attribute(
        "data-values", "+79167770066", timeout=TIMEOUT
    )
    await page.get_by_test_id("client-name").fill("Глеб Новиков")
    await page.get_by_test_id("save-client").click()
    await expect(page.get_by_test_id("card-title")).to_have_text("Глеб Новиков", timeout=TIMEOUT)
    await expect(page.get_by_test_id("card-kind")).to_have_text("клиент")
    await shot(page, "card-saved-as-client")
    found = await crm.store.clients.by_phone("+79167770066")
    assert found is not None and found["name"] == "Глеб Новиков"


async def test_an_unknown_number_is_added_to_an_existing_client(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    client_id = await crm.store.clients.create("ООО Вектор", ["+79164440011"])
    await sign_in(page, crm)
    crm.hub.publish(live(LiveKind.RINGING, "+79167770077"))
    await expect(page.get_by_test_id("card-phones")).to_have_attribute(
        "data-values", "+79167770077", timeout=TIMEOUT
    )
    await page.get_by_test_id("attach-query").fill("Вектор")
    await expect(page.locator("#attach-list option")).to_have_count(1, timeout=TIMEOUT)
    await page.get_by_role("button", name="Добавить к клиенту").click()
    await expect(page).to_have_url(f"{crm.url}/crm/#/client/{client_id}", timeout=TIMEOUT)
    await expect(page.get_by_test_id("card-phones")).to_have_attribute(
        "data-values", "+79164440011, +79167770077"
    )
    await shot(page, "number-attached")


async def test_an_admin_adds_an_employee_who_then_signs_in(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm, "200")
    await page.get_by_test_id("nav-admin").click()
    await page.get_by_test_id("new-name").fill("Олег Новый")
    await page.get_by_test_id("new-extension").fill("240")
    await page.get_by_test_id("new-login").fill("oleg")
    await page.get_by_test_id("add").click()
    secret = page.get_by_test_id("secret")
    await expect(secret).to_contain_text("пароль:", timeout=TIMEOUT)
    password = (await secret.text_content() or "").split("пароль: ")[1].split(" ")[0]
    await expect(page.locator('tr[data-employee="oleg"]')).to_contain_text("Олег Новый")
    await expect(page.get_by_test_id("audit")).to_contain_text("employees", timeout=TIMEOUT)
    row = page.locator('tr[data-employee="oleg"]')
    await row.get_by_test_id("edit-extension").click()
    await row.get_by_test_id("edit-extension-input").fill("241")
    await page.keyboard.press("Enter")
    await expect(page.locator('tr[data-employee="oleg"]').get_by_test_id("edit-extension")).to_have_text(
        "241", timeout=TIMEOUT
    )
    await shot(page, "admin-employees")
    await page.goto(f"{crm.url}/crm/")
    await page.get_by_test_id("sign-out").click()
    await page.get_by_test_id("login").fill("oleg")
    await page.get_by_test_id("password").fill(password)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("me-name")).to_have_text("Олег Новый (241)", timeout=TIMEOUT)
    await expect(page.get_by_test_id("nav-admin")).to_have_count(0)


async def test_after_sign_out_the_pages_ask_for_the_password_again(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await sign_in(page, crm)
    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("login")).to_be_visible(timeout=TIMEOUT)
    await page.reload()
    await expect(page.get_by_test_id("login")).to_be_visible(timeout=TIMEOUT)
    assert await crm.store.db.scalar("SELECT COUNT(*) FROM sessions") == 0

"""Accounts and their defences in a real browser: guessing, a stolen cookie, someone else's client,
a page of another site trying to act with the employee's cookie (CSRF) or to follow their calls."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from tests.browser.conftest import ARGS, CHROMIUM
from tests.browser.test_crm_pages import TIMEOUT, shot, sign_in
from tests.unit.builtin.helpers import CrmServer

pytestmark = pytest.mark.browser


async def test_twenty_wrong_passwords_lock_the_sign_in_form(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    await page.goto(f"{crm.url}/crm/")
    error = page.get_by_test_id("login-error")
    for n in range(20):
        await page.get_by_test_id("login").fill("egor")
        await page.get_by_test_id("password").fill(f"угадываю пароль номер {n}")
        await page.get_by_test_id("sign-in").click()
        await expect(error).not_to_be_empty(timeout=TIMEOUT)
        if n < 19:
            await page.evaluate("document.getElementById('login-error').textContent = ''")
    await expect(error).to_contain_text("Слишком много")
    await shot(page, "sign-in-throttled")


async def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import async_playwright, expect

    await sign_in(page, crm)
    stolen = [c for c in await page.context.cookies() if c["name"] == "crm_session"]
    assert stolen and stolen[0]["httpOnly"] and stolen[0]["sameSite"] == "Strict"
    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("login")).to_be_visible(timeout=TIMEOUT)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        thief = await browser.new_context(locale="ru-RU")
        await thief.add_cookies(stolen)
        other = await thief.new_page()
        await other.goto(f"{crm.url}/crm/")
        await expect(other.get_by_test_id("login")).to_be_visible(timeout=TIMEOUT)
        answer = await other.request.get(f"{crm.url}/api/crm/calls")
        assert answer.status == 401
        await browser.close()


async def test_an_employee_cannot_rename_another_managers_client(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    manager = await crm.store.employees.by_extension("201")
    assert manager is not None
    client = await crm.store.clients.create("ООО Чужое", ["+79165550077"], responsible_id=manager["id"])
    await sign_in(page, crm)
    await page.goto(f"{crm.url}/crm/#/client/{client}")
    await page.get_by_test_id("client-name-edit").click()
    await page.get_by_test_id("client-name-edit-input").fill("Моё теперь")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("toast").last).to_contain_text("недостаточно прав", timeout=TIMEOUT)
    await shot(page, "someone-elses-client")
    assert (await crm.store.clients.get(client))["name"] == "ООО Чужое"


EVIL = """<!doctype html><html><body><script>
const crm = "{crm}";
window.results = {{}};
fetch(crm + "/api/crm/clients", {{method: "POST", credentials: "include", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{name: "Взлом"}})}})
  .then(() => {{ window.results.fetch = "sent"; }}).catch(() => {{ window.results.fetch = "failed"; }});
const ws = new WebSocket(crm.replace("http", "ws") + "/api/live");
ws.onopen = () => {{ window.results.ws = "open"; }};
ws.onerror = () => {{ window.results.ws = "refused"; }};
</script><form id="f" method="POST" action="{crm}/api/crm/clients" enctype="text/plain">
<input name='{{"name": "Взлом формой", "x": "' value='"}}'></form></body></html>"""


async def test_a_page_of_another_site_cannot_act_with_the_employees_cookie(page: Any, crm: CrmServer) -> None:
    # The evil page is on 127.0.0.1 too, another port: the same *site*, so SameSite lets the cookie
    # go with its requests. Only the CSRF token and the Origin check stop them.
    from playwright.async_api import expect

    async def evil(request: web.Request) -> web.Response:
        return web.Response(text=EVIL.format(crm=crm.url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        await sign_in(page, crm)
        before = await crm.store.db.scalar("SELECT COUNT(*) FROM clients")
        await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
        await page.wait_for_function("window.results.fetch && window.results.ws", timeout=TIMEOUT)
        assert await page.evaluate("window.results.ws") == "refused"
        await page.evaluate("document.getElementById('f').submit()")
        await expect(page.locator("body")).to_contain_text("CSRF", timeout=TIMEOUT)
        assert await crm.store.db.scalar("SELECT COUNT(*) FROM clients") == before
        assert crm.hub.subscribers == 0  # the employee's own page has left; the other site's was refused
        refused = await crm.store.db.fetch_all("SELECT * FROM audit WHERE entity = 'clients'")
        assert refused == []
    finally:
        await runner.cleanup()


async def test_opening_the_pages_signed_out_logs_no_401(page: Any, crm: CrmServer) -> None:
    from playwright.async_api import expect

    statuses: list[tuple[str, int]] = []
    page.on("response", lambda r: statuses.append((r.url, r.status)))
    await page.goto(f"{crm.url}/crm/")
    await expect(page.get_by_test_id("login")).to_be_visible(timeout=TIMEOUT)
    assert [s for s in statuses if s[1] >= 400] == []

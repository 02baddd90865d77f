"""The amoCRM call panel end to end: the widget's script.js in Debian chromium, inside a page that
stands in for amoCRM's widget environment (tests/browser/amocrm_env), against the real daemon
(`crm-connector run`, a subprocess) on the harness's real Asterisk, with the fake amoCRM account.

Each test acts as an employee would (types, presses Enter, clicks a phone number, a button, picks
a colleague) and checks both what the panel shows and what the PBX did. Screenshots go to
tests/artifacts/amocrm-widget-*.png.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, _need_browser
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.service.daemon import daemon, free_port, wait_report, write_config

from .harness import AMI_USER, DIDS, Harness, calls_since
from .scenarios import answered, world_leg_hangup

pytestmark = [pytest.mark.pbx, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
WIDGET = ROOT / "amocrm-widget"
ENV = ROOT / "tests" / "browser" / "amocrm_env"
JQUERY = Path("/usr/share/javascript/jquery/jquery.min.js")
LINE = DIDS[0]
TOKEN = "widget-e2e-token-5b0d8e2f71c4"
LINK_SECRET = "widget-e2e-link-secret-0123456789"
KNOWN = "+79161230001"  # a client amoCRM knows
WAIT = 20_000  # ms the page may take to show what the PBX did (a guard, not a measure)


@dataclass
class Stack:
    """The harness, the fake amoCRM, the daemon and the stand-in page's server."""

    h: Harness
    amo: FakeAmoCrm
    users: dict[str, int]
    daemon_url: str
    page_url: str


async def _page_server() -> tuple[web.AppRunner, str]:
    files = {"/": ENV / "index.html", "/env.js": ENV / "env.js", "/jquery.min.js": JQUERY}

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(files[request.path])

    app = web.Application()
    for path in files:
        app.router.add_get(path, serve)
    app.router.add_static("/widget/", WIDGET)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(pbx_harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Everything the panel talks to, started once for the module."""
    _need_browser()
    h = pbx_harness
    await h.reset()
    tmp = tmp_path_factory.mktemp("amocrm-widget")
    amo = await FakeAmoCrm().start()
    users = {ext: amo.add_user(name) for ext, name in (("201", "Иван Петров"), ("202", "Мария Смирнова"),
                                                      ("203", "Олег Орлов"))}  # fmt: skip
    amo.add_contact("ООО «Ромашка», Анна", [KNOWN])
    runner, page_url = await _page_server()
    port = free_port()
    user_map = "\n".join(f'      "{ext}": "{uid}"' for ext, uid in users.items())
    config = write_config(
        tmp,
        ami_port=h.pbx_instance.ami_port,
        username=AMI_USER,
        http_port=port,
        http_extra=f"  public_url: http://127.0.0.1:{port}\n  link_secret: {LINK_SECRET}\n",
        extra=f"""  amocrm:
    enabled: true
    base_url: {amo.url}
    auth:
      mode: long_lived
      long_lived_token: {amo.issue_long_lived()}
    users:
{user_map}
    widget:
      enabled: true
      token: {TOKEN}
      extensions: ["*"]
      allowed_origins: ["{page_url}"]
call_control:
  transfer_context: internal
  number_patterns: ['^(\\+7|7|8)9\\d{{9}}$', '^[0-9]{{3}}$']
numbering:
  country_code: "7"
  internal_pattern: "^[0-9]{{2,5}}$"
  lines:
    - number: "{LINE}"
      name: Сайт
""",
    )
    try:
        async with daemon(tmp, config, "widget", secret=h.pbx_instance.values["AMI_SECRET"]):
            await wait_report(port, "connected", True, section="ami")
            yield Stack(h, amo, users, f"http://127.0.0.1:{port}", page_url)
    finally:
        await runner.cleanup()
        await amo.close()
        await h.reset()


@pytest_asyncio.fixture(loop_scope="session")
async def panel(stack: Stack, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Employee 201 (Иван Петров) in amoCRM with the widget installed and connected."""
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    await stack.h.reset()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 860})
        page = await context.new_page()
        await page.goto(stack.page_url + "/")
        await page.evaluate(
            """([url, token, uid, clientPhone]) => {
                const rows = [['ООО «Ромашка», Анна', clientPhone], ['Сергей (мобильный)', '+79161230077']];
                for (const [name, phone] of rows) {
                  const tr = document.createElement('tr');
                  tr.innerHTML = `<td>${name}</td><td><span class="phone-link"
                    data-phone="${phone}">${phone}</span></td>`;
                  document.getElementById('contacts').append(tr);
                }
                document.getElementById('card-contact').textContent = rows[0][0];
                const phone = document.getElementById('card-phone');
                phone.textContent = clientPhone; phone.dataset.phone = clientPhone;
                return AmoEnv.load({base: '/widget/', settings: {public_url: url, token},
                                    user: {id: uid, name: 'Иван Петров', email: 'ivan@example.ru'}});
            }""",
            [stack.daemon_url, TOKEN, stack.users["201"], KNOWN],
        )
        await page.wait_for_selector(".mikopbx-panel_online", timeout=WAIT)
        try:
            yield page
        finally:
            await page.screenshot(path=str(ARTIFACTS / f"amocrm-widget-{request.node.name}-last.png"))
            await context.close()
            await browser.close()
            await stack.h.reset()


async def shot(page: Any, name: str) -> None:
    """Save what the employee sees now (tests/artifacts/amocrm-widget-<name>.png)."""
    await page.screenshot(path=str(ARTIFACTS / f"amocrm-widget-{name}.png"))


def popup(page: Any) -> Any:
    """The newest call pop-up."""
    return page.locator(".mikopbx-call").last


def first_channels(h: Harness, mark: int) -> list[str]:
    """The phones and trunks the PBX opened channels to since `mark`, first ones first."""
    seen: list[str] = []
    for raw in h.pbx.events[mark:]:
        name = str(raw.get("Channel", "")).split("-")[0]
        if raw.get("Event") == "Newchannel" and name.startswith("PJSIP/") and name not in seen:
            seen.append(name)
    return seen


async def timer_seconds(page: Any) -> int:
    text = await popup(page).locator(".js-mikopbx-timer").inner_text()
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + int(seconds)


# ------------------------------------------------------------------ incoming call


async def test_incoming_call_pops_up_with_the_client_answer_starts_the_timer_and_hangup_ends_it(
    stack: Stack, panel: Any
) -> None:
    h = stack.h
    await h.route(LINE, "201")
    await h.phone("201", "answer:3:0")
    h.begin()
    await panel.evaluate(
        "() => document.querySelector('.mikopbx-panel').classList.add('mikopbx-panel_hidden')"
    )
    await h.inbound(LINE, KNOWN)
    call = popup(panel)
    await call.locator(".mikopbx-call__name", has_text="Ромашка").wait_for(timeout=WAIT)
    ringing = (await call.get_attribute("data-state"), await panel.locator(".mikopbx-panel_hidden").count())
    await panel.locator('[data-extension="201"][data-state="ringing"]').wait_for(timeout=WAIT)
    await shot(panel, "incoming-ringing")
    await panel.locator('.mikopbx-call[data-state="talking"]').wait_for(timeout=WAIT)
    first = await timer_seconds(panel)
    await panel.wait_for_function(
        "s => { const t = document.querySelector('.js-mikopbx-timer'); if (!t) return false;"
        " const [m, x] = t.textContent.split(':'); return m * 60 + +x > s; }",
        arg=first,
        timeout=WAIT,
    )
    await shot(panel, "incoming-talking")
    presence = await panel.locator('[data-extension="201"]').get_attribute("data-state")
    await call.locator(".js-mikopbx-hangup").click()
    await panel.locator('.mikopbx-call[data-state="ended"]').wait_for(timeout=WAIT)
    await shot(panel, "incoming-ended")
    calls = await calls_since(h, h.pbx_mark)
    assert (ringing, presence, [(c.direction.value, c.client, c.answered_by) for c in calls]) == (
        ("ringing", 0),  # the hidden panel came back by itself
        "talking",
        [("inbound", KNOWN, "201")],
    )


async def test_open_card_of_an_unknown_caller_creates_a_contact_and_opens_it(
    stack: Stack, panel: Any
) -> None:
    h = stack.h
    unknown = "+79161239999"
    await h.route(LINE, "201")
    await h.phone("201", "answer:1:0")
    h.begin()
    await h.inbound(LINE, unknown)
    call = popup(panel)
    await call.locator(".mikopbx-call__name", has_text="Новый номер").wait_for(timeout=WAIT)
    await call.locator(".js-mikopbx-card").click()
    await call.locator(".mikopbx-call__name", has_text="Новый контакт").wait_for(timeout=WAIT)
    await shot(panel, "unknown-card-opened")
    created = stack.amo.contacts_with_phone(unknown)
    navigations = await panel.evaluate("() => amoLog.navigations")
    await call.locator(".js-mikopbx-hangup").click()
    await panel.locator('.mikopbx-call[data-state="ended"]').wait_for(timeout=WAIT)
    assert ([c["name"] for c in created], navigations) == (
        ["Новый контакт"],
        [f"/contacts/detail/{created[0]['id']}"],
    )


async def test_open_the_card_on_ring_is_remembered_per_user_and_opens_the_known_clients_card(
    stack: Stack, panel: Any
) -> None:
    h = stack.h
    await panel.locator(".js-mikopbx-options").click()
    await panel.locator(".js-mikopbx-open-card").select_option("ring")
    stored = await panel.evaluate(f"() => localStorage.getItem('mikopbx_open_card_{stack.users['201']}')")
    await h.route(LINE, "201")
    await h.phone("201", "answer:2:0")
    h.begin()
    await h.inbound(LINE, KNOWN)
    await panel.wait_for_function("() => amoLog.navigations.length > 0", timeout=WAIT)
    navigations = await panel.evaluate("() => amoLog.navigations")
    await panel.locator('.mikopbx-call[data-state="talking"]').wait_for(timeout=WAIT)
    await shot(panel, "open-card-on-ring")
    await popup(panel).locator(".js-mikopbx-hangup").click()
    await panel.locator('.mikopbx-call[data-state="ended"]').wait_for(timeout=WAIT)
    contact = stack.amo.contacts_with_phone(KNOWN)[0]
    assert (stored, navigations) == ("ring", [f"/contacts/detail/{contact['id']}"])


# ------------------------------------------------------------------ transfers


async def _answered_call(stack: Stack, panel: Any, caller: str) -> int:
    h = stack.h
    await h.route(LINE, "201")
    await h.phone("201", "answer:1:0")
    h.begin()
    await h.inbound(LINE, caller)
    await panel.locator('.mikopbx-call[data-state="talking"]').wait_for(timeout=WAIT)
    return h.pbx_mark


async def test_blind_transfer_to_a_colleague_picked_in_the_list(stack: Stack, panel: Any) -> None:
    h = stack.h
    await h.phone("203", "answer:1:2")
    mark = await _answered_call(stack, panel, "+79161230002")
    await panel.locator('[data-extension="203"]').dblclick()
    await panel.locator(".mikopbx-transfer-modal .js-mikopbx-blind").wait_for(timeout=WAIT)
    await shot(panel, "transfer-dialog")
    await panel.locator(".mikopbx-transfer-modal .js-mikopbx-blind").click()
    await (
        popup(panel)
        .locator(".mikopbx-call__note", has_text="Звонок переведён на Олег Орлов")
        .wait_for(timeout=WAIT)
    )
    await shot(panel, "blind-transferred")
    calls = await calls_since(h, mark)
    assert [
        (tuple(leg.extension for leg in c.legs), [(t.kind.value, t.from_ext, t.to_ext) for t in c.transfers])
        for c in calls
    ] == [(("201", "203"), [("blind", "201", "203")])]


async def test_attended_transfer_completes_when_the_employee_hangs_up(stack: Stack, panel: Any) -> None:
    h = stack.h
    await h.phone("203", "answer:1:0")
    mark = await _answered_call(stack, panel, "+79161230003")
    await popup(panel).locator(".js-mikopbx-transfer").click()
    await panel.locator(".js-mikopbx-transfer-target").select_option("203")
    await panel.locator(".mikopbx-transfer-modal .js-mikopbx-attended").click()
    await answered(h, "203")
    await shot(panel, "attended-consulting")
    await asyncio.sleep(1)  # the consultation: 201 and 203 talk while the client waits
    consulting = await popup(panel).get_attribute("data-state")
    await world_leg_hangup(h, "201")
    _, done = await h.wait_pbx(Event="AttendedTransfer")
    await (
        popup(panel)
        .locator(".mikopbx-call__note", has_text="Звонок переведён на Олег Орлов")
        .wait_for(timeout=WAIT)
    )
    await panel.locator('[data-extension="201"][data-state="idle"]').wait_for(timeout=WAIT)
    await panel.locator('[data-extension="203"][data-state="talking"]').wait_for(timeout=WAIT)
    await shot(panel, "attended-transferred")
    await asyncio.sleep(1)
    await world_leg_hangup(h, "203")
    calls = await calls_since(h, mark)
    assert (
        consulting,
        done.get("Result"),
        [[(t.kind.value, t.from_ext, t.to_ext) for t in c.transfers] for c in calls],
    ) == (
        "talking",  # still ours while we consult
        "Success",
        [[("attended", "201", "203")]],
    )


async def test_a_refused_consultation_leaves_the_call_with_the_employee(stack: Stack, panel: Any) -> None:
    h = stack.h
    await h.phone("203", "answer:1:1")  # 203 answers, hears the colleague out, and hangs up
    mark = await _answered_call(stack, panel, "+79161230004")
    await popup(panel).locator(".js-mikopbx-transfer").click()
    await panel.locator(".js-mikopbx-transfer-target").select_option("203")
    await panel.locator(".mikopbx-transfer-modal .js-mikopbx-attended").click()
    await answered(h, "203")
    await h.wait_pbx(Event="Hangup", Channel="PJSIP/203-*")
    await asyncio.sleep(1.5)  # the client is back with 201
    back = (await popup(panel).get_attribute("data-state"), await timer_seconds(panel) > 0)
    await shot(panel, "attended-refused")
    await popup(panel).locator(".js-mikopbx-hangup").click()
    calls = await calls_since(h, mark)
    assert (back, [(tuple(leg.extension for leg in c.legs), c.transfers) for c in calls]) == (
        ("talking", True),
        [(("201",), ())],
    )


# ------------------------------------------------------------------ dialling


async def test_click_on_a_phone_in_the_list_rings_the_employee_then_the_client(
    stack: Stack, panel: Any
) -> None:
    h = stack.h
    await h.phone("201", "answer:1:0")
    await h.client("+79161230077", "answer:2:2")  # dialled as clicked: +7...
    h.begin()
    await panel.locator('.phone-link[data-phone="+79161230077"]').click()
    call = popup(panel)
    await call.locator(".mikopbx-call__head", has_text="Исходящий").wait_for(timeout=WAIT)
    await panel.locator('.mikopbx-call[data-state="talking"]').wait_for(timeout=WAIT)
    await shot(panel, "click-to-call-talking")
    await panel.locator('.mikopbx-call[data-state="ended"]').wait_for(timeout=WAIT)
    calls = await calls_since(h, h.pbx_mark)
    assert (
        first_channels(h, h.pbx_mark),
        [(c.direction.value, c.client, c.answered_by, c.originated) for c in calls],
    ) == (["PJSIP/201", "PJSIP/SIP"], [("outbound", "+79161230077", "201", True)])


async def test_typing_filters_the_employees_and_enter_dials_the_one_left(stack: Stack, panel: Any) -> None:
    h = stack.h
    await h.phone("201", "answer:1:0")
    await h.phone("202", "answer:1:1")
    h.begin()
    search = panel.locator(".js-mikopbx-search")
    await search.fill("мари")
    names = await panel.locator(".mikopbx-panel__name").all_inner_texts()
    await shot(panel, "filtered")
    await search.press("Enter")
    calls = await calls_since(h, h.pbx_mark)
    assert (names, first_channels(h, h.pbx_mark), [c.direction.value for c in calls]) == (
        ["Мария Смирнова"],
        ["PJSIP/201", "PJSIP/202"],
        ["internal"],
    )


async def test_enter_on_a_typed_number_dials_it(stack: Stack, panel: Any) -> None:
    h = stack.h
    await h.phone("201", "answer:1:0")
    await h.client("89161230055", "answer:1:1")
    h.begin()
    search = panel.locator(".js-mikopbx-search")
    await search.fill("8 916 123-00-55")
    shown = await panel.locator(".mikopbx-panel__empty").count()
    await search.press("Enter")
    calls = await calls_since(h, h.pbx_mark)
    assert (shown, [(c.direction.value, c.client, c.answered_by) for c in calls]) == (
        1,
        [("outbound", "+79161230055", "201")],
    )


async def test_the_panel_hides_whole_or_list_only_and_comes_back_at_the_right_edge(panel: Any) -> None:
    root = panel.locator(".mikopbx-panel")
    await panel.locator(".js-mikopbx-toggle-list").click()
    list_hidden = await panel.locator(".js-mikopbx-list").is_visible()
    await panel.locator(".js-mikopbx-toggle-list").click()
    await panel.locator(".js-mikopbx-hide").click()
    hidden = await root.get_attribute("class")
    await shot(panel, "hidden")
    await panel.mouse.move(1279, 430)  # seed: «отвести мышь к правой границе окна браузера»
    await panel.wait_for_function(
        "() => !document.querySelector('.mikopbx-panel').classList.contains('mikopbx-panel_hidden')",
        timeout=WAIT,
    )
    assert (list_hidden, "mikopbx-panel_hidden" in str(hidden), await root.is_visible()) == (
        False,
        True,
        True,
    )


# ------------------------------------------------------------------ settings and teardown


async def test_settings_refuse_a_plain_http_address_and_destroy_removes_the_panel(panel: Any) -> None:
    await panel.evaluate("() => AmoEnv.openSettings()")
    await panel.locator('input[name="public_url"]').fill("http://pbx.example.ru:8088")
    await panel.locator(".js-widget-save").click()
    errors = await panel.evaluate("() => amoLog.errors.map(e => e.text)")
    await shot(panel, "settings-refused")
    await panel.locator('input[name="public_url"]').fill("https://pbx.example.ru:8443")
    await panel.locator(".js-widget-save").click()
    saved = await panel.evaluate("() => amoLog.saved && amoLog.saved.public_url")
    await panel.evaluate("() => AmoEnv.destroy()")
    with contextlib.suppress(Exception):
        await panel.locator(".mikopbx-panel").wait_for(state="detached", timeout=WAIT)
    assert (errors[-1:], saved, await panel.locator(".mikopbx-panel").count()) == (
        ["Адрес коннектора должен начинаться с https:// (http:// — только для 127.0.0.1 и localhost)"],
        "https://pbx.example.ru:8443",
        0,
    )

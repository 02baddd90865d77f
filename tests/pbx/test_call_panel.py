"""The CRM's live call panel in a real Chromium, driving the real Asterisk of the harness.

The whole daemon (AMI client, tracker, live events, call control, built-in CRM) runs in this
process on the harness's PBX; an employee signs in to the CRM pages, a real SIP call rings
their phone, the panel shows the caller, and its buttons act on the call through the daemon's
call-control API. Each test checks the call record the tracker makes of the PBX's events.
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

from adapters.builtin.store import Store
from connector.commands.demo import demo_settings
from connector.commands.demo_seed import seed
from connector.service import Service
from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM
from tests.unit.service.daemon import free_port

from .harness import AMI_USER, DIDS, Harness, calls_since
from .scenarios import answered, world_leg_hangup

pytestmark = [pytest.mark.pbx, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LINE = DIDS[0]
TIMEOUT = 20_000  # ms: an upper bound for a loaded machine, not a timing assertion


@dataclass
class Crm:
    """The daemon with the CRM on the harness's PBX, and a signed-in employee's browser page."""

    h: Harness
    url: str
    store: Store
    page: Any


@pytest_asyncio.fixture(loop_scope="session")
async def crm(pbx_harness: Harness, tmp_path: Path) -> AsyncIterator[Crm]:
    """Seeded demo CRM (employees 201..208) on the PBX; Chromium signed in as 201."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing")
    from playwright.async_api import async_playwright, expect

    h = pbx_harness
    await h.reset()
    pbx = h.pbx_instance
    port = free_port()
    settings = demo_settings(
        tmp_path, pbx.ami_port, port, ami_user=AMI_USER, ami_secret=pbx.values["AMI_SECRET"]
    )
    tokens = await seed(tmp_path / "builtin.db")
    service = Service(settings)
    async with contextlib.AsyncExitStack() as stack:
        await service.start(stack)
        store = next(iter(service.adapters.values())).store  # type: ignore[attr-defined]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = await browser.new_page(locale="ru-RU", viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            url = f"http://127.0.0.1:{port}"
            await page.goto(f"{url}/crm/")
            await page.get_by_test_id("login").fill(tokens["201"].login)
            await page.get_by_test_id("password").fill(tokens["201"].password)
            await page.get_by_test_id("sign-in").click()
            await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "on", timeout=TIMEOUT)
            try:
                yield Crm(h, url, store, page)
            finally:
                await browser.close()
            assert not errors, errors
    await h.reset()


def _first_to_leave(h: Harness, mark: int) -> str:
    """The endpoint of the first channel that left the conversation's bridge."""
    for raw in h.pbx.events[mark:]:
        if raw.get("Event") == "BridgeLeave":
            return str(raw.get("Channel", "")).rpartition("-")[0]
    return ""


async def _answered_by_201(c: Crm, caller: str) -> int:
    """A client calls the line routed to 201, whose phone answers and stays; the event mark."""
    from playwright.async_api import expect

    h = c.h
    await h.route(LINE, "201")
    await h.phone("201", "answer:1:0")
    h.begin()
    await h.inbound(LINE, caller)
    await answered(h, "201")
    await expect(c.page.get_by_test_id("callpanel")).to_have_attribute(
        "data-kind", "answered", timeout=TIMEOUT
    )
    return h.pbx_mark


async def test_the_panel_shows_a_known_caller_and_hangs_up_the_real_call(crm: Crm) -> None:
    from playwright.async_api import expect

    page = crm.page
    mark = await _answered_by_201(crm, "+79161234567")  # Иван Петров of the demo, ООО «Ромашка»
    await expect(page.get_by_test_id("callpanel-name")).to_have_text("Иван Петров")
    await expect(page.get_by_test_id("callpanel")).to_contain_text("ООО «Ромашка»")
    await expect(page.get_by_test_id("callpanel-deals")).to_contain_text("Поставка для Иван Петров")
    await page.screenshot(path=str(ARTIFACTS / "pbx-call-panel-answered.png"), full_page=True)
    await page.get_by_test_id("cp-hangup").click()
    calls = await calls_since(crm.h, mark)
    assert [(c.answered_by, c.disposition.value) for c in calls] == [("201", "answered")]
    assert _first_to_leave(crm.h, mark) == "PJSIP/201"  # the employee's side was hung up
    await expect(page.get_by_test_id("callpanel")).to_have_attribute("data-kind", "ended", timeout=TIMEOUT)
    await expect(page.get_by_test_id("cp-callback")).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "pbx-call-panel-ended.png"), full_page=True)


async def test_the_panel_transfers_the_real_call_blind_to_an_employee_from_the_list(crm: Crm) -> None:
    from playwright.async_api import expect

    page = crm.page
    await crm.h.phone("203", "answer:1:2")
    mark = await _answered_by_201(crm, "+79161110301")
    await page.get_by_test_id("cp-transfer").click()
    dialog = page.get_by_test_id("transfer-dialog")
    await dialog.get_by_test_id("cp-target").select_option("203")
    await dialog.get_by_test_id("cp-kind").select_option("blind")
    await page.screenshot(path=str(ARTIFACTS / "pbx-call-panel-transfer.png"), full_page=True)
    await dialog.get_by_test_id("dialog-submit").click()
    await expect(dialog).to_have_count(0, timeout=TIMEOUT)
    calls = await calls_since(crm.h, mark)
    assert [
        (tuple(g.extension for g in c.legs), [(t.kind.value, t.from_ext, t.to_ext) for t in c.transfers])
        for c in calls
    ] == [(("201", "203"), [("blind", "201", "203")])]


async def test_call_back_from_the_panel_rings_the_employee_then_the_client(crm: Crm) -> None:
    from playwright.async_api import expect

    page = crm.page
    h = crm.h
    await h.route(LINE, "201")
    await h.phone("201", "answer:1:1")
    await h.inbound(LINE, "+79161110302")
    await expect(page.get_by_test_id("callpanel")).to_have_attribute("data-kind", "ended", timeout=TIMEOUT)
    await h.wait_idle()
    await h.phone("201", "answer:1:0")
    await h.client("+79161110302", "answer:1:2")  # the panel calls back the number as filed
    h.begin()
    await page.get_by_test_id("cp-callback").click()
    calls = await calls_since(h, h.pbx_mark)
    assert [(c.direction.value, c.client, c.answered_by, c.originated) for c in calls] == [
        ("outbound", "+79161110302", "201", True)
    ]


async def test_the_panel_transfers_the_real_call_attended_after_a_consultation(crm: Crm) -> None:
    from playwright.async_api import expect

    page = crm.page
    h = crm.h
    await h.phone("203", "answer:1:0")
    mark = await _answered_by_201(crm, "+79161110303")
    await page.get_by_test_id("cp-transfer").click()
    dialog = page.get_by_test_id("transfer-dialog")
    await dialog.get_by_test_id("cp-target").select_option("203")
    await dialog.get_by_test_id("cp-kind").select_option("attended")
    await dialog.get_by_test_id("dialog-submit").click()
    await expect(page.get_by_test_id("toast").last).to_contain_text("консультации", timeout=TIMEOUT)
    await answered(h, "203")  # the consultation: 203 talks to 201 while the client waits
    await asyncio.sleep(1)  # pacing of the phones, as a person would; nothing is timed
    await world_leg_hangup(h, "201")  # 201 hangs up: the client goes to 203
    _, done = await h.wait_pbx(Event="AttendedTransfer")
    await asyncio.sleep(1)
    await world_leg_hangup(h, "203")
    calls = await calls_since(h, mark)
    assert done.get("Result") == "Success"
    assert [
        (tuple(g.extension for g in c.legs), [(t.kind.value, t.from_ext, t.to_ext) for t in c.transfers])
        for c in calls
    ] == [(("201", "203"), [("attended", "201", "203")])]
    # the end names no phone; 201's page was told of the call, so it hears the end too
    await expect(page.get_by_test_id("callpanel")).to_have_attribute("data-kind", "ended", timeout=TIMEOUT)
    await page.screenshot(path=str(ARTIFACTS / "pbx-call-panel-attended.png"), full_page=True)

"""Auto-dial lists in a real browser: an employee pastes a column of numbers, starts the list, the
dialer (its AMI a recording fake) rings them, and the page follows the result of each call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.control import CallControl, CallControlSettings
from tests.browser.test_crm_pages import TIMEOUT, shot, sign_in
from tests.unit.builtin.helpers import CrmServer, crm_server, make_call
from tests.unit.dialer.test_worker import Ami

pytestmark = pytest.mark.browser


@pytest.fixture
async def crm_dialer(tmp_path: Path) -> AsyncIterator[tuple[CrmServer, Ami]]:
    ami = Ami()
    async with crm_server(tmp_path, call_control=CallControl(ami, CallControlSettings())) as running:
        yield running, ami


async def test_an_employee_makes_a_list_starts_it_and_sees_each_result(
    page: Any, crm_dialer: tuple[CrmServer, Ami]
) -> None:
    from playwright.async_api import expect

    crm, ami = crm_dialer
    await sign_in(page, crm)
    await page.goto(f"{crm.url}/crm/#/dialer")
    await page.get_by_test_id("new-dial-list").click()
    await page.get_by_test_id("dial-name").fill("Промоакция")
    await page.locator("[data-testid=dial-source] [data-key=numbers]").click()
    await page.get_by_test_id("dial-numbers").fill(
        "8 916 123-45-67\n+7 916 123 45 67\n8 (916) 765-43-21\nне номер"
    )
    await page.get_by_test_id("dial-check").click()
    await expect(page.get_by_test_id("dial-preview")).to_have_text("2 номера · повторы: 1 · не номера: 1")
    await page.get_by_test_id("dial-pause").select_option("inf")
    await page.get_by_test_id("dialog-submit").click()
    await page.get_by_test_id("dial-start").click()
    entries = page.get_by_test_id("dial-entries")
    await expect(entries.locator("tbody tr").first).to_have_attribute(
        "data-status", "dialing", timeout=TIMEOUT
    )
    call_id = next(h["ChannelId"] for a, h in ami.actions if a == "Originate")
    ended = datetime.now(UTC)
    call = make_call(
        call_id, "+79161234567", direction=Direction.OUTBOUND, start=ended - timedelta(seconds=40)
    )
    await crm.adapter.log_call(replace(call, originated=True))
    crm.hub.publish(
        LiveEvent(LiveKind.ENDED, call_id, ended, Direction.OUTBOUND, "+79161234567", exten="202")
    )
    await expect(entries.locator("tbody tr").first).to_have_attribute(
        "data-status", "answered", timeout=TIMEOUT
    )
    await expect(page.get_by_test_id("dial-progress")).to_have_text("1 из 2")
    await expect(page.get_by_test_id("dial-next")).to_be_visible()  # «∞»: the next number waits for «Дальше»
    await shot(page, "dialer-list")
    await page.get_by_test_id("dial-next").click()
    await expect(entries.locator("tbody tr").nth(1)).to_have_attribute(
        "data-status", "dialing", timeout=TIMEOUT
    )
    assert [h["Exten"] for a, h in ami.actions if a == "Originate"] == ["+79161234567", "+79167654321"]

"""Calling a client from wherever they show up: the clients list, the card's phones and its feed,
the deal card. Each button rings the signed-in employee's phone first, then the number (the AMI
Originate goes to a recording fake of Asterisk behind the real CallControl)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connector.api.control import setup as setup_control
from connector.control import CallControl, CallControlSettings
from tests.browser.test_crm_pages import TIMEOUT, shot, sign_in
from tests.unit.builtin.helpers import CrmServer, crm_server, make_call
from tests.unit.dialer.test_worker import Ami

pytestmark = pytest.mark.browser

PHONE = "+79161234500"


@pytest.fixture
async def crm_ami(tmp_path: Path) -> AsyncIterator[tuple[CrmServer, Ami]]:
    ami = Ami()
    control = CallControl(ami, CallControlSettings())
    # the daemon mounts the call-control routes beside the CRM's, as here
    mount = lambda app, _store: setup_control(app, control)  # noqa: E731
    async with crm_server(tmp_path, call_control=control, prepare=mount) as running:
        yield running, ami


def dialled(ami: Ami) -> list[tuple[str, str]]:
    """(the employee's channel, the number) of every Originate."""
    return [(h["Channel"], h["Exten"]) for a, h in ami.actions if a == "Originate"]


async def test_every_place_a_client_shows_has_a_call_button(
    page: Any, crm_ami: tuple[CrmServer, Ami]
) -> None:
    from playwright.async_api import expect

    crm, ami = crm_ami
    me = await crm.store.employees.by_extension("202")
    assert me is not None
    client_id = await crm.store.clients.create("Иван Петров", [PHONE], responsible_id=me["id"])
    pipeline = (await crm.store.deals.pipelines())[0]
    deal = await crm.store.deals.create(
        {"title": "Поставка бумаги", "pipeline_id": pipeline["id"], "client_id": client_id, "value": 1000,
         "responsible_id": me["id"]}
    )  # fmt: skip
    # a missed call after the deal opened: in the card's feed and in the deal's calls
    later = datetime.now(UTC)
    await crm.adapter.log_call(make_call("1700000700.1", PHONE, answered_by=None, rang=("202",), start=later))
    await sign_in(page, crm)
    toast = page.get_by_test_id("toast").last

    await page.goto(f"{crm.url}/crm/#/clients")
    row = page.locator(f'[data-client="{client_id}"]')
    await row.get_by_test_id("call-phone").click()
    await expect(toast).to_contain_text("сначала зазвонит ваш телефон", timeout=TIMEOUT)
    await shot(page, "clients-call-button")

    await page.goto(f"{crm.url}/crm/#/client/{client_id}")
    await page.get_by_test_id("phone-item").get_by_test_id("call-phone").click()
    await expect(page.get_by_test_id("feed-call-back")).to_have_count(1, timeout=TIMEOUT)
    await page.get_by_test_id("feed-call-back").click()
    await shot(page, "card-feed-call-back")

    await page.goto(f"{crm.url}/crm/#/deals")
    await page.locator(f'[data-deal="{deal["id"]}"]').click()
    dialog = page.get_by_test_id("deal-card-dialog")
    await dialog.get_by_test_id("deal-call").click()
    await expect(dialog.get_by_test_id("deal-call-back")).to_have_count(1, timeout=TIMEOUT)
    await dialog.get_by_test_id("deal-call-back").click()
    await shot(page, "deal-card-call-buttons")
    await expect(toast).to_contain_text("сначала зазвонит ваш телефон", timeout=TIMEOUT)
    assert [number for _, number in dialled(ami)] == [PHONE] * 5
    assert {channel for channel, _ in dialled(ami)} == {"Local/202@internal-originate"}  # 202 rings first

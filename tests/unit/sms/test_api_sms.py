"""The SMS routes: from the card into the feed, mailings with an estimate, who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.builtin import sms_service
from adapters.builtin.store import Store
from tests.fakes.smsc import FakeSmsc
from tests.unit.builtin.helpers import CrmServer, crm_server
from tests.unit.sms.conftest import sms_settings


@pytest.fixture
async def crm(tmp_path: Path, smsc: FakeSmsc) -> AsyncIterator[CrmServer]:
    """The CRM with SMS through the fake; the tests drive the sender themselves."""

    def prepare(app: web.Application, store: Store) -> None:
        sms_service.configure(app, sms_settings(smsc), store.sms, run_sender=False)

    async with crm_server(tmp_path, prepare=prepare) as running:
        yield running


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CrmServer]:
    """The CRM without SMS settings."""
    async with crm_server(tmp_path) as running:
        yield running


async def call(crm: CrmServer, method: str, path: str, body: Any = None, ext: str = "201") -> tuple[int, Any]:
    url = f"{crm.url}/api/crm{path}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, headers=crm.headers(ext)) as r,
    ):
        return r.status, await r.json() if r.content_type.endswith("json") else None


async def step(crm: CrmServer) -> None:
    sender = crm.app[sms_service.SMS_KEY].sender
    assert sender is not None
    await sender.step()


async def test_an_sms_from_the_card_shows_in_the_feed_with_its_status(crm: CrmServer, smsc: FakeSmsc) -> None:
    client = await crm.store.clients.create("Вера", ["+74951234567", "+79161112233"])
    body = {"text": "Ваш заказ готов"}
    status, message = await call(crm, "POST", f"/clients/{client}/sms", body, ext="202")
    assert status == 202 and (message["phone"], message["status"], message["segments"]) == (
        "+79161112233",  # the mobile number, not the office one
        "queued",
        1,
    )
    await step(crm)
    smsc.deliver(message["id"], "+79161112233", 1)
    await crm.store.db.write("UPDATE sms_messages SET check_at = '2000-01-01T00:00:00Z'")
    await step(crm)
    _, feed = await call(crm, "GET", f"/clients/{client}/feed?kind=sms", ext="202")
    assert [(i["text"], i["who"], i["extra"].split(" ")[0]) for i in feed["items"]] == [
        ("Ваш заказ готов", "Егор Сотрудник", "delivered")
    ]


async def test_a_number_that_is_not_the_clients_is_refused(crm: CrmServer) -> None:
    client = await crm.store.clients.create("Вера", ["+79161112233"])
    body = {"text": "Привет", "phone": "+79990001122"}
    status, problem = await call(crm, "POST", f"/clients/{client}/sms", body)
    assert status == 422 and problem["errors"][0]["field"] == "phone"


async def test_a_mailing_estimate_counts_recipients_and_cost_before_sending(
    crm: CrmServer, smsc: FakeSmsc
) -> None:
    ids = [await crm.store.clients.create(f"Клиент {i}", [f"+7916000000{i}"]) for i in range(3)]
    await crm.store.clients.create("Без номера")
    await crm.store.sms.opt_out("+79160000002", "")
    body = {"text": "я" * 71, "filter": {"q": "клиент"}}
    status, estimate = await call(crm, "POST", "/sms/mailings/preview", body)
    assert status == 200
    keys = ("recipients", "opted_out", "segments", "sms_total", "cost", "cost_source")
    assert {k: estimate[k] for k in keys} == {
        "recipients": 2,
        "opted_out": 1,
        "segments": 2,
        "sms_total": 4,
        "cost": 10.0,
        "cost_source": "provider",
    }
    assert smsc.sends == [] and ids


async def test_a_mailing_is_made_paused_resumed_and_sent_once_to_each(crm: CrmServer, smsc: FakeSmsc) -> None:
    ids = [await crm.store.clients.create(f"Клиент {i}", [f"+7916000000{i}"]) for i in range(3)]
    body = {"name": "Акция", "text": "Скидка 30%", "client_ids": ids, "scheduled_at": "2000-01-01T00:00:00Z"}
    status, made = await call(crm, "POST", "/sms/mailings", body)
    assert status == 201 and made["counts"] == {"queued": 3}
    assert (await call(crm, "POST", f"/sms/mailings/{made['id']}/pause"))[0] == 200
    await step(crm)
    assert smsc.sends == []
    assert (await call(crm, "POST", f"/sms/mailings/{made['id']}/resume"))[0] == 200
    await step(crm)
    _, done = await call(crm, "GET", f"/sms/mailings/{made['id']}")
    assert done["state"] == "done" and done["counts"] == {"sent": 3} and len(smsc.sends) == 3
    assert [m["client_name"] for m in done["messages"]["items"]] == ["Клиент 0", "Клиент 1", "Клиент 2"]
    assert (await call(crm, "POST", f"/sms/mailings/{made['id']}/pause"))[0] == 409


async def test_employees_send_from_the_card_but_not_mailings(crm: CrmServer) -> None:
    status, _ = await call(crm, "POST", "/sms/mailings/preview", {"text": "x", "client_ids": [1]}, ext="202")
    assert status == 403
    assert (await call(crm, "GET", "/sms/optout", ext="202"))[0] == 403
    assert (await call(crm, "GET", "/sms", ext="202"))[1]["senders"] == ["Shop"]


async def test_without_sms_settings_the_routes_say_what_to_configure(server: CrmServer) -> None:
    assert (await call(server, "GET", "/sms"))[1] == {"enabled": False}
    client = await server.store.clients.create("Вера", ["+79161112233"])
    status, problem = await call(server, "POST", f"/clients/{client}/sms", {"text": "x"})
    assert status == 503 and "adapters.builtin.sms" in problem["detail"]

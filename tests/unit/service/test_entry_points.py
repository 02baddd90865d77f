"""Click-to-call from every CRM entry point, end to end, as the daemon wires it.

The settings come from YAML; call control, recording links and health are the `Service`'s own;
the adapters are built by `wiring.build_adapters` (with a real outbox) and mounted by
`create_http_app`; the `AmiSlot` is bound to a real `AmiClient` logged in to the in-test AMI
server. Each test asserts on what that server, standing in for Asterisk, received.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.builtin.adapter import BuiltinAdapter
from connector import config
from connector.ami.client import AmiClient
from connector.crm import Adapter
from connector.service import Service, _with_storage, create_http_app
from connector.sync import wiring
from tests.unit.ami.amiserver import AmiServer
from tests.unit.bitrix24.conftest import USERS, start_portal
from tests.unit.builtin.helpers import make_call

WAIT = 5.0  # seconds a step may take before the test fails instead of hanging
WIDGET_TOKEN = "amocrm-widget-token-6f1c2b7e9d"
APP_TOKEN = "51610fefc120afg4b628cc82d6298cce"
EMPLOYEE = ("Егор Сотрудник", "202", "employee", "employee-202-token-3a9f1c77e2")
COLLEAGUE = ("Ева Сотрудник", "203", "employee", "employee-203-token-8b2d4e61f0")
CLIENT = "+79161234567"
PREMIUM = "88091234567"  # 8-809: premium rate, what toll fraud dials

CONFIG = """
ami:
  host: 127.0.0.1
  port: {ami_port}
  username: {ami_user}
  secret: {ami_secret}
  reconnect_min: 0.01
  reconnect_max: 0.05
http:
  public_url: https://pbx.example.ru:8088
  link_secret: link-secret-0123456789abcdef0123
storage:
  dir: {state}
  recordings_dir: {monitor}
adapters:
  builtin:
    enabled: true
  bitrix24:
    enabled: true
    auth: webhook
    webhook_url: {portal_webhook}
    application_token: {app_token}
  amocrm:
    enabled: true
    base_url: http://127.0.0.1:9
    auth:
      mode: long_lived
      long_lived_token: amocrm-long-lived-token-not-used-here
    widget:
      enabled: true
      token: {widget_token}
      extensions: ["*"]   # chosen explicitly (the default is none)
"""


@dataclasses.dataclass
class Daemon:
    """The daemon's HTTP app on loopback, its AMI client, and the PBX it talks to."""

    pbx: AmiServer
    ami: AmiClient
    http: TestClient[Any, Any]
    adapters: dict[str, Adapter]
    settings: config.Settings

    @property
    def crm(self) -> BuiltinAdapter:
        """The built-in CRM's adapter (its store is the one the CRM's routes use)."""
        adapter = self.adapters["builtin"]
        assert isinstance(adapter, BuiltinAdapter)
        return adapter

    async def originates(self) -> list[dict[str, str]]:
        """The Originate actions Asterisk has read, once everything sent before has reached it.

        The server answers one connection's actions in order, so when a later action is
        answered, any Originate sent before it has been read and recorded.
        """
        await self.ami.send("CoreSettings", within=WAIT)
        return [a for a in self.pbx.actions if a.get("Action") == "Originate"]

    async def originated(self) -> dict[str, str]:
        """The first Originate Asterisk receives (waits for it)."""
        async with asyncio.timeout(WAIT):
            return await self.pbx.wait_action("Originate")


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """Everything from YAML to AMI, assembled in the service's order; torn down in reverse."""
    async with contextlib.AsyncExitStack() as stack:
        pbx = await stack.enter_async_context(AmiServer())
        portal = await start_portal()
        stack.push_async_callback(portal.stop)
        settings = config.loads(
            CONFIG.format(
                ami_port=pbx.port,
                ami_user=pbx.username,
                ami_secret=pbx.secret,
                state=tmp_path / "state",
                monitor=tmp_path / "monitor",
                portal_webhook=portal.webhook_url,
                app_token=APP_TOKEN,
                widget_token=WIDGET_TOKEN,
            )
        )
        service = Service(settings)  # builds CallControl(AmiSlot(), settings.call_control, rules)
        settings.storage.dir.mkdir(parents=True)
        outbox = await wiring.open_outbox(settings)
        stack.push_async_callback(outbox.close)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        adapters = wiring.build_adapters(
            _with_storage(settings),
            outbox,
            session,
            recording_url=lambda path: service.links.url(path, ttl=settings.http.crm_link_ttl),
            call_control=service.control,
        )
        stack.push_async_callback(wiring.close_adapters, adapters)
        app = create_http_app(settings, service.health, adapters, service.links, service.control)
        # The built-in CRM's store and the portal's user directory; amoCRM's own start talks to
        # amoCRM, which the widget does not need.
        for name in ("builtin", "bitrix24"):
            await adapters[name].start()
        http = await stack.enter_async_context(TestClient(TestServer(app, host="127.0.0.1")))
        ami = AmiClient(settings.ami, lambda message: None)
        service.ami_slot.bind(ami)
        ami.start()
        stack.push_async_callback(ami.stop)
        await ami.wait_connected(WAIT)
        yield Daemon(pbx, ami, http, adapters, settings)


# -- the built-in CRM's call-back button ----------------------------------------------------------


async def _employees_with_a_call(daemon: Daemon, call_id: str) -> None:
    """Employees 202 and 203 in the CRM, and a call of 202's with the client filed (as delivered)."""
    crm = daemon.crm
    for name, extension, role, token in (EMPLOYEE, COLLEAGUE):
        await crm.store.employees.create(name, extension, role, token)
    await crm.log_call(make_call(call_id, CLIENT, answered_by="202", rang=("202",)))


def _as(employee: tuple[str, str, str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {employee[3]}"}


async def test_crm_call_back_originates_from_the_employees_extension_to_the_calls_number(
    daemon: Daemon,
) -> None:
    await _employees_with_a_call(daemon, "1763805600.7")
    response = await daemon.http.post("/api/crm/calls/1763805600.7/callback", json={}, headers=_as(EMPLOYEE))
    assert response.status == 202, await response.text()
    action = await daemon.originated()
    assert (action["Channel"], action["Exten"]) == ("Local/202@internal-originate", CLIENT)
    assert action["ChannelId"] == (await response.json())["result"]


async def test_crm_call_back_as_another_employees_extension_is_refused_and_nothing_is_dialled(
    daemon: Daemon,
) -> None:
    await _employees_with_a_call(daemon, "1763805600.8")
    response = await daemon.http.post(
        "/api/crm/calls/1763805600.8/callback", json={"extension": "203"}, headers=_as(EMPLOYEE)
    )
    assert response.status == 403
    assert await daemon.originates() == []


async def test_crm_call_backs_of_one_employee_do_not_use_up_a_namesakes_rate_limit(daemon: Daemon) -> None:
    crm = daemon.crm
    ivan_202 = ("Иван Петров", "202", "employee", "ivan-petrov-202-token-5d7a1e3c90")
    ivan_203 = ("Иван Петров", "203", "employee", "ivan-petrov-203-token-0e4b9f2a61")
    for name, extension, role, token in (ivan_202, ivan_203):
        await crm.store.employees.create(name, extension, role, token)
    await crm.log_call(make_call("1763805600.21", CLIENT, answered_by="202", rang=("202",)))
    await crm.log_call(make_call("1763805600.31", "+79165550031", answered_by="203", rang=("203",)))
    for _ in range(daemon.settings.call_control.calls_per_minute):  # 202 uses up their own limit
        busy = await daemon.http.post("/api/crm/calls/1763805600.21/callback", json={}, headers=_as(ivan_202))
        assert busy.status == 202, await busy.text()
    response = await daemon.http.post("/api/crm/calls/1763805600.31/callback", json={}, headers=_as(ivan_203))
    assert response.status == 202, await response.text()
    assert [a["Channel"] for a in await daemon.originates()][-1] == "Local/203@internal-originate"


async def test_crm_call_back_past_the_rate_limit_says_when_to_try_again(daemon: Daemon) -> None:
    crm = daemon.crm
    ivan = ("Иван Петров", "202", "employee", "ivan-petrov-202-token-5d7a1e3c90")
    await crm.store.employees.create(*ivan)
    await crm.log_call(make_call("1763805600.41", CLIENT, answered_by="202", rang=("202",)))
    for _ in range(daemon.settings.call_control.calls_per_minute):
        await daemon.http.post("/api/crm/calls/1763805600.41/callback", json={}, headers=_as(ivan))
    refused = await daemon.http.post("/api/crm/calls/1763805600.41/callback", json={}, headers=_as(ivan))
    assert (refused.status, refused.content_type, int(refused.headers["Retry-After"]) > 0) == (
        429,
        "application/problem+json",
        True,
    )


# -- Bitrix24: ONEXTERNALCALLSTART -------------------------------------------------------------


def _portal_click(call_id: str, token: str = APP_TOKEN) -> dict[str, str]:
    """The form the portal posts when user 12 (extension 202) clicks the client's number."""
    return {
        "event": "ONEXTERNALCALLSTART",
        "data[PHONE_NUMBER]": "8 916 123-45-67",
        "data[PHONE_NUMBER_INTERNATIONAL]": CLIENT,
        "data[EXTENSION]": "",
        "data[USER_ID]": str(USERS["202"]),
        "data[CALL_ID]": call_id,
        "data[CRM_ENTITY_TYPE]": "CONTACT",
        "data[CRM_ENTITY_ID]": "797",
        "auth[application_token]": token,
        "auth[access_token]": "portal-access-token",
        "auth[domain]": "example.bitrix24.ru",
    }


async def test_bitrix24_click_originates_one_call_from_the_portal_users_extension(daemon: Daemon) -> None:
    call_id = "externalCall.5c8d2a61f7e94b3a"
    response = await daemon.http.post("/webhooks/bitrix24", data=_portal_click(call_id))
    assert response.status == 200, await response.text()
    action = await daemon.originated()
    assert (action["Channel"], action["Exten"]) == ("Local/202@internal-originate", CLIENT)
    assert f"CRM_CALL_ID={call_id}" in action["Variable"].split(",")
    assert len(await daemon.originates()) == 1


async def test_bitrix24_click_with_a_wrong_application_token_is_refused_and_nothing_is_dialled(
    daemon: Daemon,
) -> None:
    form = _portal_click("externalCall.forged", token="forged-application-token-0000")
    response = await daemon.http.post("/webhooks/bitrix24", data=form)
    assert response.status == 401
    assert await daemon.originates() == []


# -- the amoCRM widget ---------------------------------------------------------------------------

WIDGET = {"Authorization": f"Bearer {WIDGET_TOKEN}", "Origin": "https://example.amocrm.ru"}


async def test_amocrm_widget_click_originates_from_the_named_extension(daemon: Daemon) -> None:
    response = await daemon.http.post(
        "/amocrm/widget/originate", json={"extension": "202", "number": CLIENT}, headers=WIDGET
    )
    assert response.status == 200, await response.text()
    action = await daemon.originated()
    assert (action["Channel"], action["Exten"]) == ("Local/202@internal-originate", CLIENT)
    assert action["ChannelId"] == (await response.json())["id"]


async def test_amocrm_widget_click_to_a_premium_rate_number_is_refused_and_nothing_is_dialled(
    daemon: Daemon,
) -> None:
    # The widget's own pattern lets any digits through; call_control.number_patterns must not.
    response = await daemon.http.post(
        "/amocrm/widget/originate", json={"extension": "202", "number": PREMIUM}, headers=WIDGET
    )
    assert response.status == 403
    assert await daemon.originates() == []

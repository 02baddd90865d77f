"""Many PBXs, one CRM: an employee placed in another office (Сотрудники → Офис) is rung by that
office's PBX, whichever CRM button asks (the call-back button, click-to-call), on both back ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from adapters.builtin.db import Target
from adapters.builtin.store import Store
from adapters.webhook import Settings as WebhookSettings
from adapters.webhook import create as create_webhook
from connector.api import control as control_api
from connector.api.app import create_app
from connector.config import ApiToken, HttpSettings
from connector.control import CallControl, CallControlSettings
from connector.crm import AdapterContext, Capability, MemoryState
from connector.errors import AuthError
from connector.offices import Offices, OfficeSettings
from connector.settings_schema import Secret
from tests.unit.builtin.helpers import CrmServer, crm_server, make_call
from tests.unit.routing.recorder import RecordingPbx

SPB_TOKEN = "spb-office-control-token-123456"


@pytest_asyncio.fixture
async def spb() -> AsyncIterator[tuple[RecordingPbx, str]]:
    """The other office's connector: its call-control API in front of its own PBX."""
    pbx = RecordingPbx()
    app = create_app(HttpSettings(tokens=(ApiToken("msk-crm", Secret(SPB_TOKEN), ("*",)),)))
    control_api.setup(app, CallControl(pbx, CallControlSettings()))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield pbx, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest_asyncio.fixture
async def msk(
    tmp_path: Path, crm_target: Target, spb: tuple[RecordingPbx, str]
) -> AsyncIterator[tuple[CrmServer, RecordingPbx]]:
    """The CRM's own connector: its PBX, and `offices: [spb]` with no extension patterns."""
    offices = Offices((OfficeSettings("spb", spb[1], Secret(SPB_TOKEN)),))
    pbx = RecordingPbx()
    control = CallControl(pbx, CallControlSettings(), offices=offices)

    def mount(app: web.Application, store: Store) -> None:
        control_api.setup(app, control)

    async with crm_server(tmp_path, call_control=control, prepare=mount, target=crm_target) as server:
        yield server, pbx
    await offices.close()


async def _call(
    http: aiohttp.ClientSession, server: CrmServer, method: str, path: str, ext: str, *, body: Any
) -> Any:
    async with http.request(method, server.url + path, json=body, headers=server.headers(ext)) as r:
        return r.status, await r.json(content_type=None)


async def test_an_employee_of_another_office_is_rung_by_that_offices_pbx(
    msk: tuple[CrmServer, RecordingPbx], spb: tuple[RecordingPbx, str], http: aiohttp.ClientSession
) -> None:
    server, msk_pbx = msk
    egor = await server.store.employees.by_extension("202")
    assert egor is not None and egor["pbx"] == ""
    status, shown = await _call(
        http, server, "PATCH", f"/api/crm/employees/{egor['id']}", "200", body={"pbx": "spb"}
    )
    assert (status, shown["pbx"]) == (200, "spb")
    await server.adapter.log_call(make_call("44.1", "+79160004444"))
    callback, _ = await _call(http, server, "POST", "/api/crm/calls/44.1/callback", "202", body={})
    dialled, answer = await _call(
        http,
        server,
        "POST",
        "/api/calls/originate",
        "202",
        body={"extension": "202", "number": "+79160005555"},
    )
    own, _ = await _call(
        http,
        server,
        "POST",
        "/api/calls/originate",
        "201",
        body={"extension": "201", "number": "+79160006666"},
    )
    assert (callback, dialled, own) == (202, 202, 202)
    assert [h["Exten"] for _, h in spb[0].sent] == ["+79160004444", "+79160005555"]
    assert spb[0].sent[1][1]["ChannelId"] == answer["conversation"]  # the id the remote PBX gave
    assert [h["Exten"] for _, h in msk_pbx.sent] == ["+79160006666"]


async def test_an_office_id_that_is_not_one_is_refused(
    msk: tuple[CrmServer, RecordingPbx], http: aiohttp.ClientSession
) -> None:
    server, _ = msk
    egor = await server.store.employees.by_extension("202")
    assert egor is not None
    status, problem = await _call(
        http, server, "PATCH", f"/api/crm/employees/{egor['id']}", "200", body={"pbx": "СПб офис"}
    )
    assert status == 422 and "pbx" in str(problem)
    assert (await server.store.employees.get(egor["id"]))["pbx"] == ""


async def test_another_office_learns_whose_client_a_caller_is_for_its_own_phones_only(
    msk: tuple[CrmServer, RecordingPbx], http: aiohttp.ClientSession
) -> None:
    """Petersburg's connector (webhook adapter with `lookup_url`) asks the CRM before intercepting:
    a client of Petersburg's manager gives that manager's extension; a client of a Moscow
    manager gives none (Petersburg's PBX would ring someone else's phone)."""
    server, _ = msk
    store = server.store
    status, issued = await _call(http, server, "POST", "/api/crm/ingest/tokens", "200", body={"pbx": "spb"})
    assert status == 201, issued
    egor = await store.employees.by_extension("202")
    mark = await store.employees.by_extension("201")
    assert egor is not None and mark is not None
    await store.employees.update(egor["id"], {"pbx": "spb"})
    await store.clients.create("Клиент Петербурга", ["+79160007001"], responsible_id=egor["id"])
    await store.clients.create("Клиент Москвы", ["+79160007002"], responsible_id=mark["id"])
    settings = WebhookSettings(
        url=f"{server.url}/api/crm/ingest",
        secret=Secret("spb-webhook-secret-0123456789"),
        token=Secret(issued["token"]),
        lookup_url=f"{server.url}/api/crm/ingest/contact",
    )
    adapter = create_webhook(settings, AdapterContext("webhook", http, MemoryState()))
    petersburg = await adapter.lookup("+79160007001")
    moscow = await adapter.lookup("+79160007002")
    nobody = await adapter.lookup("+79160007003")
    assert Capability.LOOKUP in adapter.capabilities
    assert petersburg is not None and moscow is not None and nobody is None
    assert (petersburg.name, petersburg.responsible_extension) == ("Клиент Петербурга", "202")
    assert (moscow.name, moscow.responsible_extension) == ("Клиент Москвы", None)


async def test_a_lookup_without_an_issued_token_is_refused(
    msk: tuple[CrmServer, RecordingPbx], http: aiohttp.ClientSession
) -> None:
    server, _ = msk
    settings = WebhookSettings(
        url=f"{server.url}/api/crm/ingest",
        secret=Secret("spb-webhook-secret-0123456789"),
        token=Secret("a-token-this-crm-never-issued"),
        lookup_url=f"{server.url}/api/crm/ingest/contact",
    )
    adapter = create_webhook(settings, AdapterContext("webhook", http, MemoryState()))
    with pytest.raises(AuthError, match="401"):
        await adapter.lookup("+79160007001")

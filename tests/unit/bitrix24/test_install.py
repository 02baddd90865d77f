"""The application is the default path: installing it in the portal hands the daemon its tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.bitrix24 import Bitrix24Adapter, create, install
from adapters.bitrix24.settings import ExternalLine
from connector.crm import AdapterContext, MemoryState
from connector.errors import AuthError
from connector.settings_schema import Secret
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import DID, MakeAdapter, answered_call, settings_for


@pytest.fixture
async def uninstalled(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> AsyncIterator[tuple[Bitrix24Adapter, str]]:
    """An adapter configured with the app's client_id/secret only, and its install handler's URL."""
    settings = settings_for(portal, refresh_token=Secret(""))
    adapter = create(settings, AdapterContext(name="bitrix24", session=session, state=MemoryState()))
    assert isinstance(adapter, Bitrix24Adapter)
    app = web.Application()
    adapter.mount(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield adapter, str(server.make_url(settings.install_path))
    await server.close()


async def test_install_event_gives_the_daemon_its_tokens_and_application_token(
    portal: FakeBitrix24, session: aiohttp.ClientSession, uninstalled: tuple[Bitrix24Adapter, str]
) -> None:
    adapter, url = uninstalled
    with pytest.raises(AuthError, match="not installed yet"):
        await adapter.start()
    async with session.post(url, data=portal.install_event()) as resp:
        assert resp.status == 200
    await adapter.start()
    await adapter.log_call(answered_call())
    assert len(portal.activities) == 1
    assert await install.application_token(adapter) == portal.application_token


async def test_a_forged_install_is_refused_and_changes_nothing(
    portal: FakeBitrix24, session: aiohttp.ClientSession, uninstalled: tuple[Bitrix24Adapter, str]
) -> None:
    adapter, url = uninstalled
    forged = portal.install_event()
    forged["auth[access_token]"] = "made-up"
    async with session.post(url, data=forged) as resp:
        assert resp.status == 403
    elsewhere = portal.install_event()
    elsewhere["auth[client_endpoint]"] = "https://attacker.example/rest/"
    async with session.post(url, data=elsewhere) as resp:
        assert resp.status == 403
    assert await install.application_token(adapter) == ""
    with pytest.raises(AuthError):
        await adapter.start()


async def test_lines_are_renamed_with_update_and_never_create_leads_on_their_own(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    await make_adapter(lines=(ExternalLine(DID, "Сайт"),))
    assert (portal.lines[DID]["NAME"], portal.lines[DID]["CRM_AUTO_CREATE"]) == ("Сайт", "N")
    await make_adapter(lines=(ExternalLine(DID, "Реклама"),))  # add would answer "Line already exists"
    assert (portal.lines[DID]["NAME"], portal.lines[DID]["CRM_AUTO_CREATE"]) == ("Реклама", "N")
    assert "telephony.externalline.update" in portal.requests


async def test_the_app_becomes_the_default_outgoing_line(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    await make_adapter(outgoing_line_id="app1")
    assert portal.outgoing_line == "app1"


async def test_an_unknown_outgoing_line_changes_nothing(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    await make_adapter(outgoing_line_id="nope")  # set would answer 1 and change nothing: not sent
    assert portal.outgoing_line == "reg150907"
    assert "voximplant.line.outgoing.set" not in portal.requests

"""ONEXTERNALCALLSTART: portal click-to-call, verified, originated, never registered twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.bitrix24 import Bitrix24Adapter
from adapters.bitrix24.webhook import routes
from connector.calls.model import Direction, LiveKind
from connector.errors import NotPermittedError
from connector.settings_schema import Secret
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import CLIENT, MakeAdapter, answered_call, live

APP_TOKEN = "51610fefc120afg4b628cc82d6298cce"
CONVERSATION = "1700000100.5"


class RecordingCallControl:
    """A real, small call control: records what it was asked and answers as configured."""

    def __init__(self, conversation: str | None = None, refuse: Exception | None = None) -> None:
        self.conversation = conversation
        self.refuse = refuse
        self.requests: list[tuple[str, str, str | None]] = []

    async def originate(self, extension: str, number: str, *, crm_call_id: str | None = None) -> str | None:
        self.requests.append((extension, number, crm_call_id))
        if self.refuse is not None:
            raise self.refuse
        return self.conversation


Post = Callable[[dict[str, str]], Awaitable[aiohttp.ClientResponse]]
Start = Callable[[RecordingCallControl], Awaitable[tuple[Bitrix24Adapter, Post]]]


async def serve(adapter: Bitrix24Adapter) -> TestServer:
    app = web.Application()
    app.add_routes(routes(adapter))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def portal_call(portal: FakeBitrix24, make_adapter: MakeAdapter) -> str:
    """The CALL_ID the portal registered itself when the user clicked the number."""
    adapter = await make_adapter()
    answer = await adapter.client.call(
        "telephony.externalcall.register", {"USER_ID": 12, "PHONE_NUMBER": CLIENT, "TYPE": 1}
    )
    return str(answer["CALL_ID"])


def event(call_id: str, token: str = APP_TOKEN) -> dict[str, str]:
    """The form Bitrix24 posts when a user clicks a number."""
    return {
        "event": "ONEXTERNALCALLSTART",
        "data[PHONE_NUMBER]": "8 916 123-45-67",
        "data[PHONE_NUMBER_INTERNATIONAL]": CLIENT,
        "data[EXTENSION]": "",
        "data[USER_ID]": "12",
        "data[CALL_ID]": call_id,
        "data[CRM_ENTITY_TYPE]": "CONTACT",
        "data[CRM_ENTITY_ID]": "797",
        "auth[application_token]": token,
        "auth[access_token]": "portal-access-token",
        "auth[domain]": "example.bitrix24.ru",
    }


@pytest.fixture
async def started(make_adapter: MakeAdapter, session: aiohttp.ClientSession) -> AsyncIterator[Start]:
    """Start an adapter with a call control and serve its webhook route on loopback."""
    servers: list[TestServer] = []

    async def start(control: RecordingCallControl) -> tuple[Bitrix24Adapter, Post]:
        adapter = await make_adapter(call_control=control, application_token=Secret(APP_TOKEN))
        server = await serve(adapter)
        servers.append(server)

        async def post(form: dict[str, str]) -> aiohttp.ClientResponse:
            async with session.post(server.make_url("/webhooks/bitrix24"), data=form) as resp:
                await resp.read()
                return resp

        return adapter, post

    yield start
    for server in servers:
        await server.close()


async def test_wrong_application_token_is_refused(started: Start, portal_call: str) -> None:
    control = RecordingCallControl()
    _, post = await started(control)
    resp = await post(event(portal_call, token="forged"))
    assert resp.status == 401
    assert control.requests == []


async def test_click_rings_the_employee_of_the_portal_user(started: Start, portal_call: str) -> None:
    control = RecordingCallControl()
    _, post = await started(control)
    resp = await post(event(portal_call))
    assert resp.status == 200
    assert control.requests == [("202", CLIENT, portal_call)]


async def test_originated_call_is_not_registered_again(
    portal: FakeBitrix24, started: Start, portal_call: str
) -> None:
    adapter, post = await started(RecordingCallControl())
    await post(event(portal_call))
    await adapter.on_live(
        live(LiveKind.RINGING, "202", call_id=CONVERSATION, direction=Direction.OUTBOUND, did=None)
    )
    assert list(portal.calls) == [portal_call]


async def test_originated_call_is_finished_under_the_portal_call_id(
    portal: FakeBitrix24, started: Start, portal_call: str
) -> None:
    adapter, post = await started(RecordingCallControl())
    await post(event(portal_call))
    await adapter.on_live(
        live(LiveKind.RINGING, "202", call_id=CONVERSATION, direction=Direction.OUTBOUND, did=None)
    )
    await adapter.log_call(
        answered_call(id=CONVERSATION, linkedids=(CONVERSATION,), direction=Direction.OUTBOUND)
    )
    assert [a["CALL_ID"] for a in portal.activities] == [portal_call]


async def test_known_conversation_id_links_the_call_at_once(
    portal: FakeBitrix24, started: Start, portal_call: str
) -> None:
    adapter, post = await started(RecordingCallControl(conversation=CONVERSATION))
    await post(event(portal_call))
    await adapter.log_call(
        answered_call(id=CONVERSATION, linkedids=(CONVERSATION,), direction=Direction.OUTBOUND)
    )
    assert [a["CALL_ID"] for a in portal.activities] == [portal_call]
    assert list(portal.calls) == [portal_call]


async def test_refused_number_answers_403_and_forgets_the_click(
    portal: FakeBitrix24, started: Start, portal_call: str
) -> None:
    control = RecordingCallControl(refuse=NotPermittedError("number not allowed"))
    adapter, post = await started(control)
    resp = await post(event(portal_call))
    assert resp.status == 403
    await adapter.on_live(
        live(LiveKind.RINGING, "202", call_id=CONVERSATION, direction=Direction.OUTBOUND, did=None)
    )
    assert len(portal.calls) == 2  # a later ordinary call is registered as itself


async def test_portal_user_without_an_extension_is_refused(started: Start, portal_call: str) -> None:
    control = RecordingCallControl()
    _, post = await started(control)
    resp = await post({**event(portal_call), "data[USER_ID]": "1"})  # the admin has no inner phone
    assert resp.status == 422
    assert control.requests == []


async def test_without_an_application_token_configured_every_event_is_refused(
    make_adapter: MakeAdapter, session: aiohttp.ClientSession, portal_call: str
) -> None:
    control = RecordingCallControl()
    adapter = await make_adapter(call_control=control)  # application_token left empty
    server = await serve(adapter)
    try:
        async with session.post(
            server.make_url("/webhooks/bitrix24"), data=event(portal_call, token="")
        ) as resp:
            assert resp.status == 401
        assert control.requests == []
    finally:
        await server.close()

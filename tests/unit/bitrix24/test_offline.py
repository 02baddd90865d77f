"""Portal click-to-call and the callback form as offline events: no inbound HTTP to the PBX."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.bitrix24 import offline
from adapters.bitrix24.client import Bitrix24Client
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import CLIENT, MakeAdapter
from tests.unit.bitrix24.test_webhook import RecordingCallControl


async def portal_call(portal: FakeBitrix24, client: Bitrix24Client) -> str:
    """The CALL_ID the portal registered itself when the user clicked the number."""
    answer = await client.call(
        "telephony.externalcall.register", {"USER_ID": 12, "PHONE_NUMBER": CLIENT, "TYPE": 1}
    )
    return str(answer["CALL_ID"])


async def test_events_are_bound_offline_once(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    await offline.bind(adapter)
    await offline.bind(adapter)  # a restart binds nothing twice
    assert sorted((e["event"], e["event_type"]) for e in portal.events.values()) == [
        ("ONEXTERNALCALLBACKSTART", "offline"),
        ("ONEXTERNALCALLSTART", "offline"),
    ]


async def test_a_click_in_the_portal_is_read_from_the_queue_and_originated(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    control = RecordingCallControl(conversation="1700000100.5")
    adapter = await make_adapter(call_control=control)
    await offline.bind(adapter)
    call_id = await portal_call(portal, adapter.client)
    data = {"PHONE_NUMBER": "8 916 123-45-67", "PHONE_NUMBER_INTERNATIONAL": CLIENT, "USER_ID": "12",
            "CALL_ID": call_id, "CRM_ENTITY_TYPE": "CONTACT", "CRM_ENTITY_ID": "5"}  # fmt: skip
    portal.push_offline("ONEXTERNALCALLSTART", data)
    assert await offline.poll_once(adapter) == 1
    assert control.requests == [("202", CLIENT, call_id)]
    assert portal.offline == []  # cleared: read once
    assert await offline.poll_once(adapter) == 0


async def test_the_callback_form_rings_the_callback_queue_then_the_client(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    control = RecordingCallControl(conversation="1700000100.6")
    adapter = await make_adapter(call_control=control, callback_extension="2200")
    await offline.bind(adapter)
    portal.push_offline("ONEXTERNALCALLBACKSTART", {"PHONE_NUMBER": CLIENT, "LINE_NUMBER": "7", "TEXT": "…"})
    await offline.poll_once(adapter)
    assert control.requests == [("2200", CLIENT, None)]


async def test_the_poller_lives_with_the_daemons_http_app(
    portal: FakeBitrix24, make_adapter: MakeAdapter
) -> None:
    control = RecordingCallControl(conversation="1700000100.7")
    adapter = await make_adapter(call_control=control, callback_extension="2200", offline_poll_seconds=1.0)
    app = web.Application()
    adapter.mount(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(500):  # bounded wait for the first bind
            if len(portal.events) == 2:
                break
            await asyncio.sleep(0.01)
        portal.push_offline("ONEXTERNALCALLBACKSTART", {"PHONE_NUMBER": CLIENT})
        for _ in range(500):
            if control.requests:
                break
            await asyncio.sleep(0.01)
        assert control.requests == [("2200", CLIENT, None)]
    finally:
        await server.close()  # cancels the poller (aiohttp runs the app's cleanup context)


async def test_online_callback_event_is_handled_too(portal: FakeBitrix24, make_adapter: MakeAdapter) -> None:
    control = RecordingCallControl(conversation="1700000100.8")
    adapter = await make_adapter(call_control=control, callback_extension="2200", portal_events="online")
    await offline.dispatch(adapter, "ONEXTERNALCALLBACKSTART", {"PHONE_NUMBER": CLIENT})
    assert control.requests == [("2200", CLIENT, None)]

"""Call control through the HTTP API on the real Asterisk of the harness: click-to-call, hang-up,
blind and attended transfer (completed, and refused so the client returns). The API runs on a
real aiohttp server on 127.0.0.1, its AMI client logs in to the harness's PBX, and each test
checks the call record the tracker makes of the PBX's events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from connector.ami.client import AmiClient
from connector.api import control as control_api
from connector.api.app import create_app
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.config import AmiSettings, ApiToken, HttpSettings
from connector.control import CallControl, CallControlSettings
from connector.settings_schema import Secret

from .harness import AMI_USER, DIDS, NUMBERING, Harness, calls_since
from .scenarios import answered, world_leg_hangup

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

LINE1 = DIDS[0]
TOKEN = "control-test-token-1-abcdef"


@dataclass
class Api:
    """The call-control API served for the harness's PBX."""

    h: Harness
    url: str
    http: aiohttp.ClientSession

    async def post(self, path: str, **body: Any) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.http.post(f"{self.url}{path}", json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


@pytest_asyncio.fixture(loop_scope="session")
async def api(pbx_harness: Harness) -> AsyncIterator[Api]:
    """AMI client, call-control service and HTTP API, against an idle harness."""
    h = pbx_harness
    await h.reset()
    ami = AmiClient(
        AmiSettings(
            username=AMI_USER,
            secret=Secret(h.pbx_instance.values["AMI_SECRET"]),
            port=h.pbx_instance.ami_port,
            events=("system",),
        ),
        lambda event: None,
    )
    ami.start()
    settings = CallControlSettings(transfer_context="internal")
    control = CallControl(ami, settings, rules_from_numbering(NUMBERING))
    app = create_app(HttpSettings(tokens=(ApiToken("crm", Secret(TOKEN), ("201", "202")),)))
    control_api.setup(app, control)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await ami.wait_connected(10)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            yield Api(h, f"http://127.0.0.1:{port}", http)
    finally:
        await runner.cleanup()
        await ami.stop()
        await h.reset()


def first_to_leave(h: Harness, mark: int) -> str:
    """The endpoint of the first channel that left the conversation's bridge (PJSIP/201...)."""
    for raw in h.pbx.events[mark:]:
        if raw.get("Event") == "BridgeLeave":
            return str(raw.get("Channel", "")).rpartition("-")[0]
    return ""


async def inbound_answered_by_201(h: Harness, caller: str) -> int:
    """A client calls line 1 routed to 201, who answers; the event mark."""
    await h.route(LINE1, "201")
    await h.phone("201", "answer:1:0")
    h.begin()
    await h.inbound(LINE1, caller)
    await answered(h, "201")
    return h.pbx_mark


# ------------------------------------------------------------------ click-to-call
async def test_click_to_call_rings_the_employee_then_the_client(api: Api) -> None:
    h = api.h
    await h.phone("201", "answer:1:0")
    await h.client("89161234500", "answer:1:2")
    h.begin()
    status, body = await api.post("/api/calls/originate", extension="201", number="89161234500")
    calls = await calls_since(h, h.pbx_mark)
    assert (
        status,
        [(c.id, c.direction.value, c.client, c.answered_by, c.disposition.value) for c in calls],
    ) == (
        202,
        [(body["conversation"], "outbound", "+79161234500", "201", "answered")],
    )


async def test_click_to_call_to_a_busy_client_is_recorded_busy(api: Api) -> None:
    h = api.h
    await h.phone("202", "answer:1:0")
    await h.client("89161234501", "busy")
    h.begin()
    status, _ = await api.post("/api/calls/originate", extension="202", number="89161234501")
    calls = await calls_since(h, h.pbx_mark)
    assert (status, [(c.client, c.rang, c.originated, c.disposition.value) for c in calls]) == (
        202,
        [("+79161234501", ("202",), True, "busy")],
    )


async def test_click_to_call_refuses_an_extension_the_token_may_not_use(api: Api) -> None:
    status, _ = await api.post("/api/calls/originate", extension="205", number="89161234502")
    channels = await api.h.pbx_channels()
    assert (status, channels) == (403, [])


# ------------------------------------------------------------------ calls in progress
async def test_hangup_ends_the_employees_call(api: Api) -> None:
    h = api.h
    mark = await inbound_answered_by_201(h, "+79161110101")
    status, _ = await api.post("/api/calls/hangup", extension="201")
    calls = await calls_since(h, mark)
    assert (status, [(c.answered_by, c.disposition.value) for c in calls], first_to_leave(h, mark)) == (
        200,
        [("201", "answered")],
        "PJSIP/201",
    )


async def test_hangup_of_an_outgoing_call_ends_the_clients_side_too(api: Api) -> None:
    h = api.h
    await h.phone("201", "answer:1:0")
    await h.client("89161234503", "answer:1:0")
    h.begin()
    await api.post("/api/calls/originate", extension="201", number="89161234503")
    await h.wait_pbx(Event="BridgeEnter", Channel="PJSIP/SIP-*")
    status, _ = await api.post("/api/calls/hangup", extension="201")
    calls = await calls_since(h, h.pbx_mark)
    assert (status, [(c.client, c.disposition.value) for c in calls], await h.world_channels()) == (
        200,
        [("+79161234503", "answered")],
        [],
    )


async def test_hangup_without_a_call_is_not_found(api: Api) -> None:
    status, _ = await api.post("/api/calls/hangup", extension="202")
    assert status == 404


async def test_blind_transfer_sends_the_client_to_the_target(api: Api) -> None:
    h = api.h
    await h.phone("203", "answer:1:2")
    mark = await inbound_answered_by_201(h, "+79161110102")
    status, _ = await api.post("/api/calls/transfer", extension="201", target="203", kind="blind")
    calls = await calls_since(h, mark)
    assert (status, [(c.legs_ext, c.transfers_kinds) for c in map(_View, calls)]) == (
        200,
        [(("201", "203"), (("blind", "201", "203"),))],
    )


async def test_attended_transfer_completes_when_the_transferer_hangs_up(api: Api) -> None:
    h = api.h
    await h.phone("203", "answer:1:0")
    mark = await inbound_answered_by_201(h, "+79161110103")
    status, _ = await api.post("/api/calls/transfer", extension="201", target="203", kind="attended")
    await answered(h, "203")
    await asyncio.sleep(1)
    await world_leg_hangup(h, "201")
    _, done = await h.wait_pbx(Event="AttendedTransfer")
    await asyncio.sleep(1)
    await world_leg_hangup(h, "203")
    calls = await calls_since(h, mark)
    assert (status, done.get("Result"), [(c.legs_ext, c.transfers_kinds) for c in map(_View, calls)]) == (
        200,
        "Success",
        [(("201", "203"), (("attended", "201", "203"),))],
    )


async def test_refused_consultation_returns_the_client_to_the_transferer(api: Api) -> None:
    h = api.h
    await h.phone("203", "answer:1:1")
    mark = await inbound_answered_by_201(h, "+79161110104")
    status, _ = await api.post("/api/calls/transfer", extension="201", target="203", kind="attended")
    await answered(h, "203")
    await h.wait_pbx(Event="Hangup", Channel="PJSIP/203-*")
    await asyncio.sleep(1.5)
    await world_leg_hangup(h, "201")
    calls = await calls_since(h, mark)
    assert (status, [(c.legs_ext, c.transfers_kinds, c.call.rang) for c in map(_View, calls)]) == (
        200,
        [(("201",), (), ("201", "203"))],
    )


class _View:
    """The parts of a call record the transfer tests compare."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.legs_ext = tuple(leg.extension for leg in call.legs)
        self.transfers_kinds = tuple((t.kind.value, t.from_ext, t.to_ext) for t in call.transfers)

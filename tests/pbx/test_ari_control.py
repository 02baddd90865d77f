"""Call control through ARI (`ari.control: ari`) on the harness's real Asterisk: click-to-call,
hang-up, blind transfer (through config/asterisk/crm-ari.conf) and the parallel interception act
through ARI's REST calls, and the call records the tracker makes of the PBX's events are the
ones AMI's control gives (the same assertions as test_call_control.py / test_interception.py).
Refusals come back in the CallControlError family with the HTTP status the API gives for AMI's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from connector.api import control as control_api
from connector.api.app import create_app
from connector.ari.actions import AriActions
from connector.ari.client import AriClient
from connector.ari.settings import AriSettings
from connector.calls.rules import rules_from_numbering
from connector.config import ApiToken, HttpSettings
from connector.control import CallControl, CallControlSettings, PbxUnavailableError
from connector.routing import ParallelInterceptor
from connector.settings_schema import Secret

from .harness import AMI_USER, NUMBERING, Harness, calls_since
from .scenarios import world_leg_hangup
from .test_call_control import TOKEN, Api, _View, first_to_leave, inbound_answered_by_201
from .test_interception import (
    KNOWN,
    LINE1,
    RESPONSIBLE,
    Agi,
    Daemon,
    Directory,
    client_calls,
    install_dialplan,
)

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

SNIPPET = Path(__file__).resolve().parents[2] / "config" / "asterisk" / "crm-ari.conf"


def ari_settings(h: Harness, **changes: object) -> AriSettings:
    """ARI for call control on the harness's PBX."""
    options: dict[str, object] = {"url": h.ari_url, "reconnect_min": 0.1, "control": "ari", **changes}
    return AriSettings(username=AMI_USER, password=Secret(h.ari_secret), **options)  # type: ignore[arg-type]


def install_transfer_context(h: Harness) -> None:
    """The shipped crm-ari.conf, included into the PBX's dialplan."""
    etc = h.pbx_instance.outer_dir / "etc"
    (etc / "crm-ari.conf").write_text(SNIPPET.read_text(encoding="utf-8"), encoding="utf-8")
    main = etc / "extensions.conf"
    text = main.read_text(encoding="utf-8")
    if "crm-ari.conf" not in text:
        main.write_text(text + "\n#include crm-ari.conf\n", encoding="utf-8")
    h.pbx_instance.cli("dialplan reload")


@pytest_asyncio.fixture(loop_scope="session")
async def api(pbx_harness: Harness) -> AsyncIterator[Api]:
    """ARI client (control only: the socket registers the app), call control and HTTP API."""
    h = pbx_harness
    await asyncio.to_thread(install_transfer_context, h)
    await h.reset()
    ari = AriClient(ari_settings(h), lambda event: None, everything=False)
    ari.start()
    control = CallControl(
        AriActions(ari), CallControlSettings(transfer_context="internal"), rules_from_numbering(NUMBERING)
    )
    app = create_app(HttpSettings(tokens=(ApiToken("crm", Secret(TOKEN), ("201", "202")),)))
    control_api.setup(app, control)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await ari.wait_connected(10)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            yield Api(h, f"http://127.0.0.1:{port}", http)
    finally:
        await runner.cleanup()
        await ari.stop()
        await h.reset()


async def test_click_to_call_through_ari_rings_the_employee_then_the_client(api: Api) -> None:
    h = api.h
    await h.phone("201", "answer:1:0")
    await h.client("89161234510", "answer:1:2")
    h.begin()
    status, body = await api.post("/api/calls/originate", extension="201", number="89161234510")
    calls = await calls_since(h, h.pbx_mark)
    assert (
        status,
        [(c.id, c.direction.value, c.client, c.answered_by, c.disposition.value) for c in calls],
    ) == (202, [(body["conversation"], "outbound", "+79161234510", "201", "answered")])


async def test_hangup_through_ari_ends_the_employees_call(api: Api) -> None:
    h = api.h
    mark = await inbound_answered_by_201(h, "+79161110111")
    status, _ = await api.post("/api/calls/hangup", extension="201")
    calls = await calls_since(h, mark)
    assert (status, [(c.answered_by, c.disposition.value) for c in calls], first_to_leave(h, mark)) == (
        200,
        [("201", "answered")],
        "PJSIP/201",
    )


async def test_blind_transfer_through_ari_sends_the_client_to_the_target(api: Api) -> None:
    h = api.h
    await h.phone("203", "answer:1:2")
    mark = await inbound_answered_by_201(h, "+79161110112")
    status, _ = await api.post("/api/calls/transfer", extension="201", target="203", kind="blind")
    calls = await calls_since(h, mark)
    assert (status, [(c.legs_ext, c.transfers_kinds) for c in map(_View, calls)]) == (
        200,
        [(("201", "203"), (("blind", "201", "203"),))],
    )


async def test_attended_transfer_through_ari_is_refused_and_the_call_goes_on(api: Api) -> None:
    h = api.h
    mark = await inbound_answered_by_201(h, "+79161110113")
    status, body = await api.post("/api/calls/transfer", extension="201", target="203", kind="attended")
    alive = [c["Channel"].rpartition("-")[0] for c in await h.pbx_channels()]
    await world_leg_hangup(h, "201")
    calls = await calls_since(h, mark)
    assert (status, "not available through ARI" in body["detail"], "PJSIP/201" in alive, len(calls)) == (
        409,
        True,
        True,
        1,
    )


async def test_unreachable_ari_is_pbx_unavailable(pbx_harness: Harness) -> None:
    ari = AriClient(ari_settings(pbx_harness, url="http://127.0.0.1:9/ari"), lambda event: None)
    ari.start()
    control = CallControl(AriActions(ari), CallControlSettings(), rules_from_numbering(NUMBERING))
    try:
        with pytest.raises(PbxUnavailableError, match="ARI"):
            await control.hangup("201")
    finally:
        await ari.stop()


# ------------------------------------------------------------------ parallel interception
@pytest_asyncio.fixture(loop_scope="session")
async def agi(pbx_harness: Harness) -> AsyncIterator[Agi]:
    """test_interception's dialplan installed and the harness idle."""
    await asyncio.to_thread(install_dialplan, pbx_harness)
    await pbx_harness.reset()
    endpoint = Agi(pbx_harness, Directory())
    try:
        yield endpoint
    finally:
        await endpoint.close()
        await pbx_harness.reset()


@pytest_asyncio.fixture(loop_scope="session")
async def ari_daemon(agi: Agi) -> AsyncIterator[Daemon]:
    """test_interception's daemon with its interceptor acting through ARI (events still AMI's)."""
    running = Daemon(agi.h)
    ari = AriClient(ari_settings(agi.h), lambda event: None, everything=False)
    ari.start()
    running.interceptor = ParallelInterceptor(running.interceptor.interception, AriActions(ari))
    running.ami.start()
    try:
        await running.ami.wait_connected(10)
        await ari.wait_connected(10)
        await agi.h.route(LINE1, "2200100")
        yield running
    finally:
        await running.interceptor.stop()
        await running.ami.stop()
        await ari.stop()


async def test_parallel_interception_through_ari_connects_the_responsible(
    ari_daemon: Daemon, agi: Agi
) -> None:
    h = agi.h
    await h.phone(RESPONSIBLE, "answer:1:0")
    calls = await client_calls(ari_daemon, h, KNOWN)
    assert [(c.answered_by, c.disposition.value) for c in calls] == [(RESPONSIBLE, "answered")]

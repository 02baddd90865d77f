"""Interception to the responsible manager on the real Asterisk of the harness.

The shipped dialplan (config/asterisk/crm-interception.conf) is copied into the running PBX's
configuration and included from its extensions.conf copy (the harness's own files are not
touched); test-only extensions `crm-*` in [internal] call it before the usual routes, and the
lines are pointed at them through the harness's inroute/<did> switch. The daemon's FastAGI
server runs in the test process; each test checks the call record the tracker makes of the
PBX's events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from connector.ami.agi import AgiServer
from connector.ami.client import AmiClient
from connector.ami.protocol import Message
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.config import AmiSettings
from connector.crm import Contact
from connector.routing import Interception, InterceptionSettings, ParallelInterceptor, ResponsibleFinder
from connector.settings_schema import Secret

from .harness import AMI_USER, DIDS, NUMBERING, Harness, calls_since

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

SNIPPET = Path(__file__).resolve().parents[2] / "config" / "asterisk" / "crm-interception.conf"
LINE1, LINE2 = DIDS
KNOWN = "+79161112233"
SLOW = "+79161112299"
UNKNOWN = "+79165550000"
RESPONSIBLE = "203"

# Test-only entries of the incoming route: interception first, then the line's usual route.
ROUTES = """
[internal]
exten => crm-ringgroup,1,Gosub(crm-interception,s,1(${FROM_DID}))
 same => n,Goto(internal,2200100,1)
"""


class Directory:
    """A CRM's lookup (the `Adapter.lookup` shape): known numbers, and one that is slow."""

    def __init__(self, slow_seconds: float = 5.0) -> None:
        self.slow_seconds = slow_seconds
        self.asked: list[str] = []

    async def lookup(self, phone: str) -> Contact | None:
        self.asked.append(phone)
        if phone == SLOW:
            await asyncio.sleep(self.slow_seconds)
        if phone in (KNOWN, SLOW):
            return Contact(
                "1", "Клиент", (phone,), responsible_user_id="7", responsible_extension=RESPONSIBLE
            )
        return None


def install_dialplan(h: Harness) -> None:
    """Copy the snippet and the test routes into the PBX's config dir and reload the dialplan."""
    etc = h.pbx_instance.outer_dir / "etc"
    (etc / "crm-interception.conf").write_text(SNIPPET.read_text(encoding="utf-8"), encoding="utf-8")
    (etc / "crm-interception-test.conf").write_text(ROUTES, encoding="utf-8")
    main = etc / "extensions.conf"
    text = main.read_text(encoding="utf-8")
    if "crm-interception.conf" not in text:
        text += "\n#include crm-interception.conf\n#include crm-interception-test.conf\n"
        main.write_text(text, encoding="utf-8")
    h.pbx_instance.cli("dialplan reload")


class Agi:
    """The daemon's FastAGI endpoint with a given set of interception settings."""

    def __init__(self, h: Harness, directory: Directory) -> None:
        self.h = h
        self.directory = directory
        self.server: AgiServer | None = None

    async def serve(self, **options: object) -> AgiServer:
        await self.close()
        values: dict[str, object] = {"enabled": True, "attempt_seconds": 3, "lookup_timeout": 1.5}
        values.update(options)
        settings = InterceptionSettings(**values)  # type: ignore[arg-type]
        finder = ResponsibleFinder([("crm", self.directory.lookup)], settings)
        self.server = AgiServer(Interception(settings, finder), "127.0.0.1", 0)
        await self.server.start()
        await self.h.pbx.action("Setvar", Variable="CRM_AGI", Value=f"127.0.0.1:{self.server.port}")
        return self.server

    async def close(self) -> None:
        if self.server is not None:
            await self.server.stop()
            await self.server.interception.finder.aclose()
            self.server = None


@pytest_asyncio.fixture(loop_scope="session")
async def agi(pbx_harness: Harness) -> AsyncIterator[Agi]:
    """The dialplan installed, the harness idle, and an AGI endpoint to configure."""
    await asyncio.to_thread(install_dialplan, pbx_harness)
    await pbx_harness.reset()
    endpoint = Agi(pbx_harness, Directory())
    try:
        yield endpoint
    finally:
        await endpoint.close()
        await pbx_harness.reset()


def intercept_reason(h: Harness, mark: int) -> str:
    """What the AGI answered (the CRM_INTERCEPT_REASON the dialplan got)."""
    for raw in h.pbx.events[mark:]:
        if raw.get("Event") == "VarSet" and raw.get("Variable") == "CRM_INTERCEPT_REASON":
            return str(raw.get("Value", ""))
    return ""


async def inbound_on_route(h: Harness, caller: str, *, talk: float = 2) -> int:
    """Route line 1 through interception, place a call from `caller`; the event mark."""
    await h.route(LINE1, "crm-ringgroup")
    h.begin()
    await h.inbound(LINE1, caller, talk=talk)
    return h.pbx_mark


def shape(call: Call) -> tuple[str, tuple[str, ...], str | None, str]:
    return call.client, call.rang, call.answered_by, call.disposition.value


# ------------------------------------------------------------------ pre-dial interception
async def test_known_client_rings_the_responsible_first(agi: Agi) -> None:
    h = agi.h
    await agi.serve()
    await h.phone(RESPONSIBLE, "answer:1:0")
    mark = await inbound_on_route(h, KNOWN)
    calls = await calls_since(h, mark)
    assert [shape(c) for c in calls] == [(KNOWN, (RESPONSIBLE,), RESPONSIBLE, "answered")]


async def test_unanswered_responsible_falls_back_to_the_route(agi: Agi) -> None:
    h = agi.h
    await agi.serve()
    await h.phone(RESPONSIBLE, "noanswer")
    await h.phone("201", "answer:1:0")
    mark = await inbound_on_route(h, KNOWN)
    calls = await calls_since(h, mark)
    assert [(c.rang[0], c.answered_by, set(c.rang)) for c in calls] == [
        (RESPONSIBLE, "201", {RESPONSIBLE, "201", "202"})
    ]


async def test_outside_working_hours_the_route_rings_directly(agi: Agi) -> None:
    h = agi.h
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    await agi.serve(holidays=(today,), timezone="UTC")
    await h.phone("201", "answer:1:0")
    mark = await inbound_on_route(h, KNOWN)
    calls = await calls_since(h, mark)
    assert ([(set(c.rang), c.answered_by) for c in calls], intercept_reason(h, mark)) == (
        [({"201", "202"}, "201")],
        "after_hours",
    )


async def test_disabled_line_is_not_intercepted(agi: Agi) -> None:
    h = agi.h
    await agi.serve(disabled_dids=(LINE1,))
    await h.phone("201", "answer:1:0")
    mark = await inbound_on_route(h, KNOWN)
    calls = await calls_since(h, mark)
    assert ([(set(c.rang), c.answered_by) for c in calls], intercept_reason(h, mark)) == (
        [({"201", "202"}, "201")],
        "did_disabled",
    )


async def test_unknown_caller_goes_straight_to_the_route(agi: Agi) -> None:
    h = agi.h
    await agi.serve()
    await h.phone("202", "answer:1:0")
    mark = await inbound_on_route(h, UNKNOWN)
    calls = await calls_since(h, mark)
    assert ([(set(c.rang), c.answered_by) for c in calls], intercept_reason(h, mark)) == (
        [({"201", "202"}, "202")],
        "no_responsible",
    )


async def test_slow_crm_lookup_gives_up_and_the_route_rings(agi: Agi) -> None:
    h = agi.h
    await agi.serve(lookup_timeout=0.5)
    await h.phone("201", "answer:1:0")
    mark = await inbound_on_route(h, SLOW)
    calls = await calls_since(h, mark)
    delay = _agi_delay(h, mark)
    print(f"\nslow CRM: the route started {delay:.3f} s after the call arrived (lookup_timeout 0.5 s)")
    assert ([(set(c.rang), c.answered_by) for c in calls], intercept_reason(h, mark)) == (
        [({"201", "202"}, "201")],
        "lookup_timeout",
    )


async def test_unavailable_responsible_device_is_skipped(agi: Agi) -> None:
    h = agi.h
    # A custom device state stands for the responsible's phone, so the test can unplug it.
    await h.pbx.action("Setvar", Variable="DEVICE_STATE(Custom:crm203)", Value="UNAVAILABLE")
    await agi.serve(device="Custom:crm{ext}")
    await h.phone("201", "answer:1:0")
    mark = await inbound_on_route(h, KNOWN)
    calls = await calls_since(h, mark)
    assert ([(set(c.rang), c.answered_by) for c in calls], intercept_reason(h, mark)) == (
        [({"201", "202"}, "201")],
        "device_unavailable",
    )


def _agi_delay(h: Harness, mark: int) -> float:
    """Seconds from the caller's channel to the reason being set (Asterisk's own timestamps)."""
    events = h.pbx.events[mark:]
    start = next(float(e["Timestamp"]) for e in events if e.get("Event") == "Newchannel")
    end = next(
        float(e["Timestamp"])
        for e in events
        if e.get("Event") == "VarSet" and e.get("Variable") == "CRM_INTERCEPT_REASON"
    )
    return end - start


# ------------------------------------------------------------------ parallel interception
class Daemon:
    """The daemon's side of parallel mode: AMI → tracker → live events → the interceptor."""

    def __init__(self, h: Harness) -> None:
        settings = InterceptionSettings(enabled=True, mode="parallel", attempt_seconds=6)
        finder = ResponsibleFinder([("crm", Directory().lookup)], settings)
        self.tracker = CallTracker(rules_from_numbering(NUMBERING))
        self.calls: list[Call] = []
        self.ami = AmiClient(
            AmiSettings(
                username=AMI_USER,
                secret=Secret(h.pbx_instance.values["AMI_SECRET"]),
                port=h.pbx_instance.ami_port,
            ),
            self.on_event,
        )
        self.interceptor = ParallelInterceptor(Interception(settings, finder), self.ami)

    def on_event(self, message: Message) -> None:
        for item in self.tracker.feed(message):
            if isinstance(item, LiveEvent):
                self.interceptor.on_live(item)
            else:
                self.calls.append(item)


@pytest_asyncio.fixture(loop_scope="session")
async def daemon(agi: Agi) -> AsyncIterator[Daemon]:
    """A running parallel interceptor on the harness's PBX (line 1 rings group 201+202)."""
    running = Daemon(agi.h)
    running.ami.start()
    try:
        await running.ami.wait_connected(10)
        await agi.h.route(LINE1, "2200100")
        yield running
    finally:
        await running.interceptor.stop()
        await running.ami.stop()


async def client_calls(d: Daemon, h: Harness, caller: str) -> list[Call]:
    """Place a call from `caller` on line 1; the daemon's call records once the PBX is idle."""
    h.begin()
    await h.inbound(LINE1, caller, talk=2)
    await h.wait_pbx(Event="Newchannel")
    await h.wait_idle()
    # The attempt's own channel makes a record of its own until the tracker files it under the
    # client's call (see the CrmInterception UserEvent): only the client's call is compared.
    return [c for c in d.calls if c.client == caller and c.direction.value == "inbound"]


async def test_parallel_connects_the_responsible_when_nobody_else_answers(daemon: Daemon, agi: Agi) -> None:
    h = agi.h
    await h.phone(RESPONSIBLE, "answer:1:0")
    calls = await client_calls(daemon, h, KNOWN)
    assert [(c.answered_by, c.disposition.value) for c in calls] == [(RESPONSIBLE, "answered")]


async def test_parallel_leaves_the_call_to_whoever_answered_first(daemon: Daemon, agi: Agi) -> None:
    h = agi.h
    await h.phone("201", "answer:1:0")
    await h.phone(RESPONSIBLE, "answer:3:0")
    calls = await client_calls(daemon, h, KNOWN)
    responsible_up = [
        e
        for e in h.pbx.events[h.pbx_mark :]
        if e.get("Event") == "Newstate"
        and str(e.get("Channel", "")).startswith(f"PJSIP/{RESPONSIBLE}-")
        and e.get("ChannelStateDesc") == "Up"
    ]
    assert ([(c.answered_by, tuple(g.extension for g in c.legs)) for c in calls], responsible_up) == (
        [("201", ("201",))],
        [],
    )


async def test_parallel_stops_ringing_the_responsible_when_the_caller_leaves(
    daemon: Daemon, agi: Agi
) -> None:
    h = agi.h
    await h.phone(RESPONSIBLE, "noanswer")
    h.begin()
    await h.inbound(LINE1, KNOWN, give_up=2)
    _, ended = await h.wait_pbx(Event="Hangup", Channel=f"PJSIP/{RESPONSIBLE}-*")
    await h.wait_idle()
    calls = [c for c in daemon.calls if c.client == KNOWN and c.direction.value == "inbound"]
    # Cause 16 is the daemon's Hangup; the attempt's own timeout (6 s) would end it otherwise.
    assert ([c.disposition.value for c in calls], ended.get("Cause")) == (["missed"], "16")

"""The module on the harness's real Asterisk: its AMI user, its dialplan, its frozen daemon.

What MikoPBX would generate from the module's hooks (the manager.conf section, the [globals]
line, the interception contexts and the incoming route's pre-dial line) is loaded into the running
PBX of tests/pbx; the module is "enabled" through its PHP hook, which writes the YAML and starts
the frozen daemon from the unzipped zip through bin/crm-connector-ctl. A client with a responsible
manager in the built-in CRM calls in: the dialplan asks the daemon's FastAGI, the responsible's
phone rings first and answers, and the daemon (logged in as the module's AMI user) records the
call. Disabling the module stops the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.builtin.store import Store
from tests.pbx.harness import DIDS, Harness, calls_since

from . import support

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

LINE = DIDS[0]
KNOWN = "+79161112233"
RESPONSIBLE = "203"
ROUTE_EXTEN = "crm-module-route"
BLOCK_BEGIN = "; ***** BEGIN BY ModuleCrmConnector"
BLOCK_END = "; ***** END BY ModuleCrmConnector"


def load_into_asterisk(h: Harness, out: dict[str, Any]) -> None:
    """What MikoPBX writes from the hooks, into the PBX's own configuration files."""
    etc = h.pbx_instance.outer_dir / "etc"
    # MikoPBX regenerates manager.conf whole: the module's block is replaced, never appended twice.
    manager = etc / "manager.conf"
    text = manager.read_text(encoding="utf-8").split(BLOCK_BEGIN)[0]
    manager.write_text(f"{text}{BLOCK_BEGIN}\n{out['manager']}{BLOCK_END}\n", encoding="utf-8")
    # An incoming route shaped like MikoPBX's: its lines, the module's pre-dial lines, then the dial.
    route = (
        f"[internal]\nexten => {ROUTE_EXTEN},1,NoOp(incoming route of line ${{FROM_DID}})\n"
        + out["before_dial"]
        + " same => n,Goto(internal,2200100,1)\n"
    )
    (etc / "crm-module.conf").write_text(out["contexts"] + "\n" + route, encoding="utf-8")
    extensions = etc / "extensions.conf"
    if "crm-module.conf" not in extensions.read_text(encoding="utf-8"):
        with extensions.open("a", encoding="utf-8") as f:
            f.write("\n#include crm-module.conf\n")
    h.pbx_instance.cli("manager reload")
    h.pbx_instance.cli("dialplan reload")


async def seed_builtin(data_dir: Path) -> None:
    """The built-in CRM knows the caller, and its responsible manager is extension 203."""
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    store = await Store.open(data_dir / "builtin.db")
    try:
        employee, _token = await store.employees.create("Ответственный", RESPONSIBLE, "manager")
        await store.clients.create("Клиент", [KNOWN], responsible_id=int(employee["id"]))
    finally:
        await store.close()


def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode())
    except OSError as exc:
        return f"unreachable: {exc}"


async def poll(url: str, wanted: str, seconds: float = 40.0) -> str:
    """GET url until its body contains `wanted`; the body (an AssertionError with the last one)."""
    deadline = time.monotonic() + seconds
    body = ""
    while time.monotonic() < deadline:
        body = await asyncio.to_thread(get, url)
        if wanted in body:
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"{url} never showed {wanted!r} in {seconds} s; last answer: {body}")


@dataclass
class Enabled:
    """The module installed, its dialplan and AMI user loaded, enabled: the frozen daemon runs."""

    modules: Path
    http_port: int
    pbx: dict[str, str]
    row: dict[str, Any]
    stopped: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextlib.asynccontextmanager
async def enabled_module(h: Harness, module_zip: Path, tmp_path: Path, mode: str) -> AsyncIterator[Enabled]:
    """Install, configure `mode`, load what the hooks generate into Asterisk, enable; disable after."""
    await h.reset()
    modules = support.extract(module_zip, tmp_path / "custom_modules")
    http_port, agi_port = support.free_port(), support.free_port()
    pbx = {"AMIPort": str(h.pbx_instance.ami_port), "PBXTimezone": "UTC"}
    changes = {
        "interception_mode": mode,
        "attempt_seconds": "5",
        "http_port": str(http_port),
        "agi_port": str(agi_port),
    }
    configured = support.run_hooks(modules, actions=["install", "set"], changes=changes, pbx_settings=pbx)
    await asyncio.to_thread(load_into_asterisk, h, configured)
    for line in configured["globals"].splitlines():
        name, _, value = line.partition("=")
        await h.pbx.action("Setvar", Variable=name, Value=value)
    await seed_builtin(modules / "ModuleCrmConnector" / "db" / "data")
    enabled = support.run_hooks(modules, row=configured["row"], actions=["enable"], pbx_settings=pbx)
    module = Enabled(modules, http_port, pbx, enabled["row"])
    try:
        yield module
    finally:
        module.stopped = support.run_hooks(modules, row=module.row, actions=["disable"], pbx_settings=pbx)
        await h.route(LINE, None)
        await h.reset()


def answered_line(h: Harness, mark: int) -> tuple[str, ...]:
    return tuple(
        str(e.get("Channel", "")).split("-")[0]
        for e in h.pbx.events[mark:]
        if e.get("Event") == "Newstate" and e.get("ChannelStateDesc") == "Up"
    )


async def test_an_intercepted_call_goes_through_the_modules_ami_user_and_dialplan_to_the_frozen_daemon(
    pbx_harness: Harness, module_zip: Path, tmp_path: Path
) -> None:
    h = pbx_harness
    async with enabled_module(h, module_zip, tmp_path, "predial") as module:
        # The daemon logged in with the module's AMI user (its rights let it set its event Filter).
        health = json.loads(await poll(f"{module.url}/healthz", '"connected": true'))
        await h.phone(RESPONSIBLE, "answer:1:0")
        await h.route(LINE, ROUTE_EXTEN)
        h.begin()
        mark = h.pbx_mark
        await h.inbound(LINE, KNOWN, talk=2)
        calls = await calls_since(h, mark)
        reason = next(
            e.get("Value")
            for e in h.pbx.events[mark:]
            if e.get("Event") == "VarSet" and e.get("Variable") == "CRM_INTERCEPT_REASON"
        )
        # The daemon followed the call through the module's AMI user and recorded it.
        metrics = await poll(f"{module.url}/metrics", 'crm_connector_calls_total{disposition="answered"} 1')
        status = support.run_hooks(
            module.modules, row=module.row, actions=["status"], pbx_settings=module.pbx
        )
    log = (tmp_path / "log" / "ModuleCrmConnector" / "daemon.log").read_text(encoding="utf-8")
    assert [(c.client, c.rang[:1], c.answered_by, c.disposition.value) for c in calls] == [
        (KNOWN, (RESPONSIBLE,), RESPONSIBLE, "answered")
    ]
    assert (reason, health["ami"]["connected"], "crm_connector_ami_connected 1" in metrics) == (
        "responsible",
        True,
        True,
    )
    panel = status["status"]
    assert (panel["running"], panel["health"]["ami"]["connected"], panel["health"]["outbox"]["dead"]) == (
        True,
        True,
        0,
    )
    assert module.stopped is not None
    assert (module.stopped["actions"], get(f"{module.url}/healthz").startswith("unreachable")) == (
        [["disable", True]],
        True,
    )
    assert module.row["ami_secret"] not in log, "the AMI secret leaked into the daemon's log"
    json.loads(log.splitlines()[-1])  # JSON lines, as the module configures


async def test_parallel_mode_originates_through_the_modules_ami_user_and_connects_the_responsible(
    pbx_harness: Harness, module_zip: Path, tmp_path: Path
) -> None:
    """The AMI user's write classes suffice for Originate, and the connect context is the module's."""
    h = pbx_harness
    async with enabled_module(h, module_zip, tmp_path, "parallel") as module:
        await poll(f"{module.url}/healthz", '"connected": true')
        await h.phone(RESPONSIBLE, "answer:1:0")
        h.begin()
        mark = h.pbx_mark
        await h.inbound(LINE, KNOWN, talk=2)
        calls = await calls_since(h, mark)
        before_dial = module.row["interception_mode"]
    connected = [e for e in h.pbx.events[mark:] if e.get("Context") == "crm-interception-connect"]
    inbound = [c for c in calls if c.client == KNOWN and c.direction.value == "inbound"]
    assert ([(c.answered_by, c.disposition.value) for c in inbound], bool(connected), before_dial) == (
        [(RESPONSIBLE, "answered")],
        True,
        "parallel",
    )

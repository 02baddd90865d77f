"""Many PBXs, one CRM, on real Asterisk: two offices, each a harness PBX with its own connector.

Moscow's connector hosts the built-in CRM and serves Moscow's PBX; Saint Petersburg's connector
serves its own PBX and delivers its calls to the CRM (`webhook` → `/api/crm/ingest`, a token the
CRM issued). Click-to-call from the CRM for a Petersburg employee rings the Petersburg PBX (through
its connector's API, `offices:`), for a Moscow employee the Moscow PBX; every call is filed in the
one CRM under its office.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.pbx.harness import AMI_USER, Harness, HarnessError, calls_since
from tests.unit.service.daemon import FAST_AMI, daemon, free_port, wait_status

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="module")]

LINE = "74951110001"
ADMIN_TOKEN = "msk-admin-token-0123456789abcdef"
SPB_CONTROL_TOKEN = "spb-control-token-0123456789abcd"
WEBHOOK_SECRET = "spb-webhook-secret-0123456789"
SEEN_WAIT = 60.0  # seconds for a delivery to reach the CRM: a bound, not a measure


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def offices() -> AsyncIterator[tuple[Harness, Harness]]:
    """Two PBX harnesses: Moscow's and Saint Petersburg's."""
    started: list[Harness] = []
    try:
        for _ in range(2):
            started.append(await Harness.start())
    except (HarnessError, OSError) as exc:
        for harness in started:
            await harness.stop()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"the real-Asterisk harness is not available here: {exc}")
    yield started[0], started[1]
    for harness in started:
        with contextlib.suppress(HarnessError):
            await harness.stop()


def _numbering() -> str:
    return f'numbering:\n  lines:\n    - number: "{LINE}"\n      name: Сайт\n'


def msk_config(tmp_path: Path, msk: Harness, port: int, spb_port: int) -> Path:
    """The CRM's own connector: Moscow's PBX, the built-in CRM, and Petersburg as an office."""
    path = tmp_path / "msk.yaml"
    path.write_text(
        f"""
ami:
  port: {msk.pbx_instance.ami_port}
  username: {AMI_USER}
  secret: ${{AMI_SECRET}}
{FAST_AMI}
pbx:
  id: msk
http:
  port: {port}
  tokens:
    - name: msk-admin
      token: {ADMIN_TOKEN}
      role: admin
storage:
  dir: {tmp_path / "msk-state"}
logging:
  format: json
call_control:
  transfer_context: internal
offices:
  - pbx: spb
    url: http://127.0.0.1:{spb_port}
    token: {SPB_CONTROL_TOKEN}
adapters:
  builtin:
    enabled: true
{_numbering()}""",
        encoding="utf-8",
    )
    return path


def spb_config(tmp_path: Path, spb: Harness, port: int, crm_port: int, ingest_token: str) -> Path:
    """Petersburg's connector: its PBX, its API for the CRM's call control, its calls to the CRM."""
    path = tmp_path / "spb.yaml"
    path.write_text(
        f"""
ami:
  port: {spb.pbx_instance.ami_port}
  username: {AMI_USER}
  secret: ${{AMI_SECRET}}
{FAST_AMI}
pbx:
  id: spb
http:
  port: {port}
  tokens:
    - name: msk-crm
      token: {SPB_CONTROL_TOKEN}
      extensions: ["*"]
storage:
  dir: {tmp_path / "spb-state"}
logging:
  format: json
call_control:
  transfer_context: internal
adapters:
  webhook:
    url: http://127.0.0.1:{crm_port}/api/crm/ingest
    secret: {WEBHOOK_SECRET}
    token: {ingest_token}
{_numbering()}""",
        encoding="utf-8",
    )
    return path


async def api(
    http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None
) -> tuple[int, Any]:
    """One request to a connector's API with a bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with http.request(method, url, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def filed(http: aiohttp.ClientSession, crm: str, call_id: str) -> dict[str, Any]:
    """The CRM's record of `call_id` once it is there (deliveries are asynchronous)."""
    async with asyncio.timeout(SEEN_WAIT):
        while True:
            status, body = await api(http, "GET", f"{crm}/api/crm/calls/{call_id}", ADMIN_TOKEN)
            if status == 200:
                return dict(body)
            await asyncio.sleep(0.2)


async def test_two_offices_one_crm_calls_filed_and_click_to_call_on_the_owning_pbx(
    tmp_path: Path, offices: tuple[Harness, Harness]
) -> None:
    msk, spb = offices
    msk_port, spb_port = free_port(), free_port()
    crm = f"http://127.0.0.1:{msk_port}"
    for harness, ext in ((msk, "201"), (spb, "202")):
        await harness.phone(ext, "answer:1:0")
        await harness.client("89161230001", "answer:1:2")
    msk_secret = msk.pbx_instance.values["AMI_SECRET"]
    spb_secret = spb.pbx_instance.values["AMI_SECRET"]
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        daemon(tmp_path, msk_config(tmp_path, msk, msk_port, spb_port), "msk", msk_secret) as msk_daemon,
    ):
        await wait_status(msk_port, "ok")
        _, issued = await api(http, "POST", f"{crm}/api/crm/ingest/tokens", ADMIN_TOKEN, {"pbx": "spb"})
        people = {}
        for name, ext, office in (("Мария Москва", "201", ""), ("Пётр Петербург", "202", "spb")):
            status, person = await api(
                http,
                "POST",
                f"{crm}/api/crm/employees",
                ADMIN_TOKEN,
                {"name": name, "extension": ext, "role": "employee", "pbx": office},
            )
            assert status == 201, person
            people[ext] = person["token"]
        config = spb_config(tmp_path, spb, spb_port, msk_port, issued["token"])
        async with daemon(tmp_path, config, "spb", spb_secret) as spb_daemon:
            await wait_status(spb_port, "ok")
            msk.begin()
            spb.begin()
            # Пётр clicks to call in the CRM: his phone is Petersburg's.
            status, placed = await api(
                http,
                "POST",
                f"{crm}/api/calls/originate",
                people["202"],
                {"extension": "202", "number": "89161230001"},
            )
            assert status == 202, placed
            await spb.wait_pbx(Event="Newchannel")
            await spb.wait_idle()
            remote = await filed(http, crm, f"spb:{placed['conversation']}")
            # Мария's click-to-call stays in Moscow.
            status, own = await api(
                http,
                "POST",
                f"{crm}/api/calls/originate",
                people["201"],
                {"extension": "201", "number": "89161230001"},
            )
            assert status == 202, own
            await msk.wait_pbx(Event="Newchannel")
            await msk.wait_idle()
            local = await filed(http, crm, own["conversation"])
            # A client calls Petersburg's line: the call reaches the CRM as Petersburg's.
            await spb.route(LINE, "202")
            spb.begin()
            spb_mark = spb.pbx_mark
            await spb.inbound(LINE, "74957778800", "Клиент Петербурга")
            await spb.wait_pbx(Event="BridgeEnter", Channel="PJSIP/202-*")
            await asyncio.sleep(1)  # a second of talk, as a person would; nothing is timed
            for chan in await spb.world_channels():
                await spb.world.action("Hangup", Channel=chan.get("Channel", ""), Cause="16")
            await spb.wait_idle()
            [inbound] = [c for c in await calls_since(spb, spb_mark) if c.direction.value == "inbound"]
            arrived = await filed(http, crm, f"spb:{inbound.id}")
            msk_calls = await calls_since(msk, msk.pbx_mark)
            assert await spb_daemon.stop() == 0
        assert await msk_daemon.stop() == 0
    shown = ("direction", "phone", "answered_by", "disposition", "pbx")
    assert [tuple(call[k] for k in shown) for call in (remote, local, arrived)] == [
        ("outbound", "+79161230001", "202", "answered", "spb"),
        ("outbound", "+79161230001", "201", "answered", "msk"),
        ("inbound", "+74957778800", "202", "answered", "spb"),
    ]
    # Moscow's PBX placed only Мария's call: Пётр's never touched it.
    assert [c.id for c in msk_calls] == [own["conversation"]]

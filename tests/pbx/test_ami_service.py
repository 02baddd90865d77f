"""The daemon against the real Asterisk 22: restarts, dropped and frozen links, a wrong password
and its own SIGTERM, each in the middle of a real SIP call. Each ends with the right calls in
the daemon's journal, none twice, and the daemon healthy again.

The daemon runs as a subprocess (`crm-connector run`) with its own Harness (Asterisk is
restarted here, which a shared session would not survive). Dropped and frozen links go through
a TCP relay written below, between the daemon and Asterisk's AMI port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.pbx.harness import AMI_USER, Harness, HarnessError, calls_since
from tests.unit.service.daemon import (
    Daemon,
    daemon,
    free_port,
    journal,
    journal_ids,
    wait_report,
    wait_status,
    write_config,
)

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="module")]

LINE = "74951110001"
CLIENT = "74957778899"
NUMBERING = f"""numbering:
  lines:
    - number: "{LINE}"
      name: Сайт
"""


class Relay:
    """A TCP relay to Asterisk's AMI that can drop every link or freeze it (no data, socket open)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.frozen: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def drop(self) -> None:
        """Reset every link at once."""
        for a, b in self.links:
            a.transport.abort()
            b.transport.abort()
        self.links.clear()

    def freeze(self) -> None:
        """Stop passing bytes on the current links, both ways; the sockets stay open."""
        for a, b in self.links:
            self.frozen.update((a, b))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links.append((writer, up_writer))
        pumps = [self._pump(reader, up_writer), self._pump(up_reader, writer)]
        for pump in pumps:
            task = asyncio.create_task(pump)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if writer in self.frozen:
                    continue  # swallowed: the peer sees a silent, open socket
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness() -> AsyncIterator[Harness]:
    try:
        started = await Harness.start()
    except (HarnessError, OSError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"the real-Asterisk harness is not available here: {exc}")
    yield started
    await started.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def pbx(harness: Harness) -> AsyncIterator[Harness]:
    """The harness with phone 201 answering and the line routed to it; idle again afterwards."""
    await harness.phone("201", "answer:1:0")
    await harness.route(LINE, "201")
    harness.begin()
    yield harness
    with contextlib.suppress(HarnessError):
        for chan in await harness.world_channels():
            await harness.world.action("Hangup", Channel=chan.get("Channel", ""), Cause="16")
        await harness.reset()


def config_for(
    tmp_path: Path,
    harness: Harness,
    http_port: int,
    ami_port: int | None = None,
    *,
    extra: str = "",
    http_extra: str = "",
) -> Path:
    return write_config(
        tmp_path,
        ami_port=ami_port or harness.pbx_instance.ami_port,
        username=AMI_USER,
        http_port=http_port,
        http_extra=http_extra,
        extra=NUMBERING + extra,
    )


def secret_of(harness: Harness) -> str:
    return harness.pbx_instance.values["AMI_SECRET"]


async def call_in_progress(harness: Harness, port: int) -> str:
    """A client calls the line, 201 answers; return the world's uniqueid once the daemon follows it."""
    call = await harness.inbound(LINE, CLIENT, "Иван Петрович")
    await harness.wait_pbx(Event="BridgeEnter", Channel="PJSIP/201-*")
    await wait_report(port, "calls_in_progress", 1)
    return call.uniqueid


async def end_call(harness: Harness, port: int, uniqueid: str) -> None:
    """The client hangs up; wait until Asterisk is idle and the daemon has let the call go."""
    await harness.hangup_world(uniqueid)
    await harness.wait_idle()
    await wait_report(port, "calls_in_progress", 0)


async def restart_asterisk(harness: Harness, *, crash: bool = False) -> None:
    """Stop the PBX's Asterisk (or kill -9 it) and start it again with the same configuration."""
    instance = harness.pbx_instance
    assert instance.ami is not None and instance.proc is not None
    await instance.ami.close()
    instance.ami = None
    if crash:
        os.killpg(instance.proc.pid, signal.SIGKILL)  # no Hangup events: the channels just vanish
        await asyncio.to_thread(instance.proc.wait)
    await asyncio.to_thread(instance.stop)
    await asyncio.to_thread(instance.start)
    await instance.connect()
    harness.begin()


async def finish(d: Daemon, port: int, tmp_path: Path) -> list[dict[str, Any]]:
    """The daemon is healthy, stops cleanly, and its journal is returned."""
    await wait_status(port, "ok")
    assert await d.stop() == 0
    return await journal(tmp_path)


async def test_asterisk_restarted_in_the_middle_of_a_call(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    async with daemon(tmp_path, config_for(tmp_path, pbx, port), "d", secret_of(pbx)) as d:
        await call_in_progress(pbx, port)
        await restart_asterisk(pbx, crash=True)
        await wait_report(port, "reconnects", 1, section="ami")
        report = await wait_report(port, "calls_in_progress", 0)
        calls = await finish(d, port, tmp_path)
    assert report["ami"]["connected"] is True
    assert [(c["client"], c["interrupted"]) for c in calls] == [(f"+{CLIENT}", True)]


async def test_asterisk_stopped_gracefully_in_the_middle_of_a_call(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    async with daemon(tmp_path, config_for(tmp_path, pbx, port), "d", secret_of(pbx)) as d:
        await call_in_progress(pbx, port)
        await restart_asterisk(pbx)  # "core stop now" hangs the channels up, with events
        await wait_report(port, "reconnects", 1, section="ami")
        calls = await finish(d, port, tmp_path)
    assert [(c["client"], c["disposition"]) for c in calls] == [(f"+{CLIENT}", "answered")]


async def test_asterisk_restarted_between_calls(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    async with daemon(tmp_path, config_for(tmp_path, pbx, port), "d", secret_of(pbx)) as d:
        await end_call(pbx, port, await call_in_progress(pbx, port))
        await restart_asterisk(pbx)
        await pbx.phone("201", "answer:1:0")
        await pbx.route(LINE, "201")
        await wait_report(port, "reconnects", 1, section="ami")
        await end_call(pbx, port, await call_in_progress(pbx, port))
        calls = await finish(d, port, tmp_path)
    assert [(c["disposition"], c["interrupted"]) for c in calls] == [("answered", False)] * 2
    assert len({c["id"] for c in calls}) == 2


async def test_a_dropped_ami_connection_loses_no_call(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    async with Relay(pbx.pbx_instance.ami_port) as relay:
        config = config_for(tmp_path, pbx, port, ami_port=relay.port)
        async with daemon(tmp_path, config, "d", secret_of(pbx)) as d:
            uniqueid = await call_in_progress(pbx, port)
            relay.drop()
            await wait_report(port, "reconnects", 1, section="ami")
            await end_call(pbx, port, uniqueid)
            calls = await finish(d, port, tmp_path)
    assert [(c["client"], c["disposition"], c["interrupted"]) for c in calls] == [
        (f"+{CLIENT}", "answered", False)
    ]


async def test_a_frozen_ami_connection_is_detected_and_replaced(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    async with Relay(pbx.pbx_instance.ami_port) as relay:
        config = config_for(tmp_path, pbx, port, ami_port=relay.port)
        async with daemon(tmp_path, config, "d", secret_of(pbx)) as d:
            uniqueid = await call_in_progress(pbx, port)
            frozen_at = time.monotonic()
            relay.freeze()
            await wait_report(port, "reconnects", 1, section="ami")
            detected = time.monotonic() - frozen_at
            await end_call(pbx, port, uniqueid)
            calls = await finish(d, port, tmp_path)
    print(f"frozen AMI link replaced after {detected:.2f} s (ping_interval 0.2 + ping_timeout 0.5)")
    assert relay.accepted == 2
    assert [(c["disposition"], c["interrupted"]) for c in calls] == [("answered", False)]


async def test_a_wrong_password_is_reported_and_healed_when_asterisk_accepts_it(
    tmp_path: Path, pbx: Harness
) -> None:
    port = free_port()
    extra_ami = "  auth_retry: 0.5\n"
    config = write_config(
        tmp_path,
        ami_port=pbx.pbx_instance.ami_port,
        username=AMI_USER,
        http_port=port,
        ami_extra=extra_ami,
        extra=NUMBERING,
    )
    manager = pbx.pbx_instance.outer_dir / "etc" / "manager.conf"
    original = manager.read_text(encoding="utf-8")
    try:
        async with daemon(tmp_path, config, "d", "not-the-password") as d:
            report = await wait_report(port, "auth_failed", True, section="ami")
            # The operator puts the daemon's password into manager.conf and reloads.
            manager.write_text(original.replace(secret_of(pbx), "not-the-password"), encoding="utf-8")
            await asyncio.to_thread(pbx.pbx_instance.cli, "manager reload")
            await wait_status(port, "ok")
            uniqueid = await call_in_progress(pbx, port)
            await end_call(pbx, port, uniqueid)
            calls = await finish(d, port, tmp_path)
    finally:
        manager.write_text(original, encoding="utf-8")
        await asyncio.to_thread(pbx.pbx_instance.cli, "manager reload")
    assert report["status"] == "unhealthy"
    assert "ami.username" in report["ami"]["last_error"]
    assert "not-the-password" not in d.log.read_text(encoding="utf-8")
    assert [(c["disposition"], c["interrupted"]) for c in calls] == [("answered", False)]


async def test_the_daemons_own_sigterm_during_a_call(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    config = config_for(tmp_path, pbx, port)
    async with daemon(tmp_path, config, "first", secret_of(pbx)) as first:
        uniqueid = await call_in_progress(pbx, port)
        assert await first.stop() == 0
    async with daemon(tmp_path, config, "second", secret_of(pbx)) as second:
        await wait_report(port, "calls_in_progress", 1)  # resumed from the journal
        # ... and resynchronised with Asterisk's channels before the client hangs up (a hangup
        # during the login would be a call that ended while no daemon listened)
        await wait_report(port, "connected", True, section="ami")
        await end_call(pbx, port, uniqueid)
        calls = await finish(second, port, tmp_path)
    assert [(c["client"], c["disposition"], c["interrupted"]) for c in calls] == [
        (f"+{CLIENT}", "answered", False)
    ]
    assert await journal_ids(tmp_path) == [(calls[0]["id"], False)]


C2C_TOKEN = "click-to-call-token-0123456789"
C2C_HTTP = f"""  tokens:
    - name: crm
      token: {C2C_TOKEN}
      extensions: ["201"]
"""


async def post_api(port: int, path: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST JSON to the daemon's API with the click-to-call token."""
    import aiohttp

    headers = {"Authorization": f"Bearer {C2C_TOKEN}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        http.post(f"http://127.0.0.1:{port}{path}", json=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_click_to_call_through_the_daemons_api_is_recorded_once(tmp_path: Path, pbx: Harness) -> None:
    port = free_port()
    config = config_for(
        tmp_path, pbx, port, http_extra=C2C_HTTP, extra="call_control:\n  transfer_context: internal\n"
    )
    await pbx.client("89161234500", "answer:1:2")
    async with daemon(tmp_path, config, "d", secret_of(pbx)) as d:
        await wait_status(port, "ok")
        mark = pbx.pbx_mark
        refused, _ = await post_api(
            port, "/api/calls/originate", {"extension": "205", "number": "89161234500"}
        )
        status, body = await post_api(
            port, "/api/calls/originate", {"extension": "201", "number": "89161234500"}
        )
        await pbx.wait_pbx(Event="Newchannel", since=mark)
        await pbx.wait_idle()
        await wait_report(port, "calls_in_progress", 0)
        calls = await finish(d, port, tmp_path)
    assert (refused, status) == (403, 202)
    assert [
        (c["id"], c["direction"], c["client"], c["answered_by"], c["originated"], c["disposition"])
        for c in calls
    ] == [(body["conversation"], "outbound", "+79161234500", "201", True, "answered")]


def ari_config(harness: Harness) -> str:
    """`ari:` taking the call events and the call control through ARI (AMI stays connected)."""
    return f"""ari:
  url: {harness.ari_url}
  username: {AMI_USER}
  password: {harness.ari_secret}
  reconnect_min: 0.1
  events: ari
  control: ari
"""


async def test_the_whole_daemon_on_ari_events_files_an_answered_call_as_on_ami(
    tmp_path: Path, pbx: Harness
) -> None:
    port = free_port()
    config = config_for(tmp_path, pbx, port, extra=ari_config(pbx))
    async with daemon(tmp_path, config, "d", secret_of(pbx)) as d:
        report = await wait_report(port, "connected", True, section="ari")
        mark = pbx.pbx_mark
        uniqueid = await call_in_progress(pbx, port)  # followed from ARI's events alone
        await asyncio.sleep(1)  # a second of talk, as a person would; nothing is timed
        await end_call(pbx, port, uniqueid)
        from_ami = await calls_since(pbx, mark)  # the same PBX events through AMI, for comparison
        calls = await finish(d, port, tmp_path)
    assert report["ari"]["connected"] is True and report["ami"]["connected"] is True
    fields = ("direction", "client", "did", "answered_by", "disposition")
    assert [tuple(c[k] for k in fields) for c in calls] == [
        ("inbound", f"+{CLIENT}", f"+{LINE}", "201", "answered")
    ]
    assert [[leg["extension"] for leg in c["legs"]] for c in calls] == [
        [leg.extension for leg in call.legs] for call in from_ami
    ]


async def test_click_to_call_through_ari_control_and_ari_events_is_recorded_once(
    tmp_path: Path, pbx: Harness
) -> None:
    port = free_port()
    config = config_for(
        tmp_path,
        pbx,
        port,
        http_extra=C2C_HTTP,
        extra="call_control:\n  transfer_context: internal\n" + ari_config(pbx),
    )
    await pbx.client("89161234501", "answer:1:2")
    async with daemon(tmp_path, config, "d", secret_of(pbx)) as d:
        await wait_report(port, "connected", True, section="ari")
        mark = pbx.pbx_mark
        status, body = await post_api(
            port, "/api/calls/originate", {"extension": "201", "number": "89161234501"}
        )
        await pbx.wait_pbx(Event="Newchannel", since=mark)
        await pbx.wait_idle()
        await wait_report(port, "calls_in_progress", 0)
        calls = await finish(d, port, tmp_path)
    assert status == 202
    assert [
        (c["id"], c["direction"], c["client"], c["answered_by"], c["originated"], c["disposition"])
        for c in calls
    ] == [(body["conversation"], "outbound", "+79161234501", "201", True, "answered")]

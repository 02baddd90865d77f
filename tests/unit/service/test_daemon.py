"""The daemon as systemd runs it: a real subprocess, sd_notify, /healthz, `check`, SIGTERM mid-call."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.ami import calls
from tests.unit.ami.amiserver import AmiServer
from tests.unit.service.daemon import (
    ROOT,
    daemon,
    free_port,
    journal_ids,
    run_check,
    wait_report,
    wait_status,
)
from tests.unit.service.daemon import write_config as _write_config


def write_config(tmp_path: Path, server: AmiServer, http_port: int) -> Path:
    return _write_config(tmp_path, ami_port=server.port, username=server.username, http_port=http_port)


@pytest.fixture
async def server() -> AsyncIterator[AmiServer]:
    async with AmiServer() as srv:
        yield srv


async def test_the_daemon_becomes_healthy_and_says_so_to_systemd(tmp_path: Path, server: AmiServer) -> None:
    port = free_port()
    async with daemon(tmp_path, write_config(tmp_path, server, port), "one") as d:
        await d.notify.wait_for("WATCHDOG=1")
        report = await wait_status(port, "ok")
        code = await d.stop()
    assert report["ami"]["connected"] is True
    assert code == 0


async def test_check_exits_zero_while_healthy_and_one_when_ami_is_gone(
    tmp_path: Path, server: AmiServer
) -> None:
    port = free_port()
    config = write_config(tmp_path, server, port)
    async with daemon(tmp_path, config, "one") as d:
        await wait_status(port, "ok")
        healthy = await run_check(config)
        server.frozen = True  # Asterisk hangs: the watchdog drops it and no new login succeeds
        await wait_status(port, "unhealthy")
        unhealthy = await run_check(config)
        await d.stop()
    assert (healthy, unhealthy) == (0, 1)


async def test_check_exits_one_when_no_daemon_runs(tmp_path: Path, server: AmiServer) -> None:
    assert await run_check(write_config(tmp_path, server, free_port())) == 1


async def test_sigterm_during_a_call_then_restart_records_the_call_once(
    tmp_path: Path, server: AmiServer
) -> None:
    port = free_port()
    config = write_config(tmp_path, server, port)
    async with daemon(tmp_path, config, "first") as first:
        await wait_status(port, "ok")
        for event in calls.ringing():
            await server.send_event(event)
        await wait_report(port, "calls_in_progress", 1)
        assert await first.stop() == 0
    server.channels = [{k: v for k, v in c.items() if k != "ActionID"} for c in calls.snapshot_items()]
    async with daemon(tmp_path, config, "second") as second:
        await wait_status(port, "ok")
        for event in calls.hangups():
            await server.send_event(event)
        await wait_report(port, "calls_in_progress", 0)
        assert await second.stop() == 0
    assert await journal_ids(tmp_path) == [("1.1", False)]


async def test_the_ami_secret_never_reaches_the_log(tmp_path: Path, server: AmiServer) -> None:
    port = free_port()
    async with daemon(tmp_path, write_config(tmp_path, server, port), "one") as d:
        await wait_status(port, "ok")
        await d.stop()
    text = d.log.read_text(encoding="utf-8")
    assert "service.stopped" in text
    assert "s3cret" not in text


async def test_a_busy_http_port_stops_start_up_with_a_clear_error(tmp_path: Path, server: AmiServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, server, taken.getsockname()[1])
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "connector.cli",
            "run",
            "-c",
            str(config),
            cwd=ROOT,
            env={**os.environ, "AMI_SECRET": "s3cret"},
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
    assert process.returncode == 1
    assert "cannot listen on 127.0.0.1" in err.decode()

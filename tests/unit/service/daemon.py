"""Run the real daemon as systemd would: a subprocess with a notify socket, /healthz, `check`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from connector.sync.outbox import Outbox
from tests.unit.service.notify_socket import NotifySocket

ROOT = Path(__file__).resolve().parents[3]
START_LIMIT = 30.0  # seconds a daemon may take to start on a loaded machine (a guard, not a measure)
FAST_AMI = """  ping_interval: 0.2
  ping_timeout: 0.5
  reconnect_min: 0.05
  reconnect_max: 0.2
"""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(
    tmp_path: Path,
    *,
    ami_port: int,
    username: str,
    http_port: int,
    ami_extra: str = FAST_AMI,
    http_extra: str = "",
    extra: str = "",
) -> Path:
    """A connector.yaml for a test daemon (the AMI secret comes from $AMI_SECRET)."""
    config = tmp_path / "connector.yaml"
    config.write_text(
        f"""
ami:
  port: {ami_port}
  username: {username}
  secret: ${{AMI_SECRET}}
{ami_extra}
http:
  port: {http_port}
{http_extra}
storage:
  dir: {tmp_path / "state"}
logging:
  format: json
adapters:
  builtin:
    enabled: true
{extra}
""",
        encoding="utf-8",
    )
    return config


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    """GET /healthz (blocking): the status code and the JSON body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


REPORT_WAIT = 120.0  # seconds: a daemon that never gets there fails the test, never hangs the run


async def wait_report(port: int, key: str, value: object, section: str | None = None) -> dict[str, Any]:
    """Poll /healthz (another process: no event to await) until `report[key] == value`."""
    report: dict[str, Any] = {}
    try:
        async with asyncio.timeout(REPORT_WAIT):
            while True:
                _, report = await asyncio.to_thread(healthz, port)
                part = report[section] if section else report
                if part[key] == value:
                    return report
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"healthz never reported {section or ''}.{key} == {value!r}: {report}") from None


async def wait_status(port: int, status: str) -> dict[str, Any]:
    """Poll /healthz until it reports `status`."""
    return await wait_report(port, "status", status)


class Daemon:
    """A `crm-connector run` subprocess with its notify socket and stderr log."""

    def __init__(self, process: asyncio.subprocess.Process, notify: NotifySocket, log: Path) -> None:
        self.process = process
        self.notify = notify
        self.log = log

    async def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        await self.notify.wait_for("STOPPING=1")
        return await self.process.wait()


@asynccontextmanager
async def daemon(tmp_path: Path, config: Path, name: str, secret: str = "s3cret") -> AsyncIterator[Daemon]:
    """Start the daemon and wait for READY=1; kill it on the way out if a test left it running."""
    notify = NotifySocket(tmp_path / f"{name}.notify")
    log = tmp_path / f"{name}.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000", "AMI_SECRET": secret}
    env.pop("WATCHDOG_PID", None)
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "connector.cli", "run", "-c", str(config), cwd=ROOT, env=env, stderr=err
        )
    try:
        async with asyncio.timeout(START_LIMIT):
            await notify.wait_for("READY=1")
        yield Daemon(process, notify, log)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        notify.close()


async def run_check(config: Path, secret: str = "s3cret") -> int:
    """`crm-connector check -c config`: its exit code."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "connector.cli",
        "check",
        "-c",
        str(config),
        cwd=ROOT,
        env={**os.environ, "AMI_SECRET": secret},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


async def journal(tmp_path: Path) -> list[dict[str, Any]]:
    """Every call in the daemon's journal (the outbox file), in the order recorded."""
    outbox = await Outbox.open(tmp_path / "state" / "outbox.db")
    try:
        rows = await outbox.db.fetch("SELECT payload FROM calls ORDER BY rowid")
    finally:
        await outbox.close()
    return [json.loads(row["payload"]) for row in rows]


async def journal_ids(tmp_path: Path) -> list[tuple[str, bool]]:
    """(call id, interrupted) of every call in the journal."""
    return [(call["id"], call["interrupted"]) for call in await journal(tmp_path)]

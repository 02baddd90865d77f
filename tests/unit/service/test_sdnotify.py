"""sd_notify written by hand: the datagrams systemd reads, and silence outside systemd."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from connector.sdnotify import Notifier
from tests.unit.service.notify_socket import NotifySocket


async def test_ready_and_status_reach_the_notify_socket(tmp_path: Path) -> None:
    listener = NotifySocket(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": str(listener.path)})
    notifier.ready("running")
    message = await listener.wait_for("READY=1")
    notifier.close()
    listener.close()
    assert message == "READY=1\nSTATUS=running"


async def test_the_watchdog_is_fed_from_the_event_loop(tmp_path: Path) -> None:
    listener = NotifySocket(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    task = asyncio.create_task(notifier.keep_alive())
    await listener.wait_for("WATCHDOG=1")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    notifier.close()
    listener.close()
    assert notifier.watchdog_seconds == 0.2


def test_a_watchdog_meant_for_another_process_is_ignored() -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
    notifier.close()
    assert notifier.watchdog_seconds is None


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    notifier.ready("running")
    assert not notifier.enabled


def test_an_abstract_socket_name_is_used_as_such() -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "@systemd/notify"})
    notifier.close()
    assert notifier.address == "\0systemd/notify"

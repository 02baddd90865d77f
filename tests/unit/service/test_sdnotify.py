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


async def test_the_listener_reads_as_systemd_does_so_stopping_is_never_dropped(tmp_path: Path) -> None:
    """Thirty status lines while no test waits, then STOPPING=1: the kernel keeps only ten
    unread datagrams, so a listener that read only in `wait_for` never saw the last one."""
    listener = NotifySocket(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": str(listener.path)})
    for n in range(30):
        notifier.status(f"calls in progress: {n}")
        await asyncio.sleep(0.01)
    notifier.stopping("stopping")
    async with asyncio.timeout(10):
        message = await listener.wait_for("STOPPING=1")
    notifier.close()
    listener.close()
    assert (message, len(listener.messages)) == ("STOPPING=1\nSTATUS=stopping", 31)

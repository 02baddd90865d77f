"""Wiring of the daemon: staged start-up and shutdown (first version, completed by the AMI issue)."""

from __future__ import annotations

import asyncio
import signal

from connector import logs
from connector.config import Settings

log = logs.get_logger(__name__)


async def run(settings: Settings) -> int:
    """Start what exists so far, then wait for SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "connector.started",
        config=settings.source,
        adapters=sorted(settings.adapters),
        note="AMI client and delivery are not built yet; only the configuration is loaded",
    )
    await stop.wait()
    log.info("connector.stopped")
    return 0

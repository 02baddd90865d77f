"""Burst mode: feed finished calls into the outbox, and deliver until nothing is left to deliver.

Behind `crm-connector outbox enqueue-json` and `outbox drain`: the same outbox, adapters and
dispatcher as the daemon, without the AMI side, so delivery can be run (and killed) on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from connector import logs
from connector.calls.model import call_from_dict
from connector.config import Settings
from connector.crm import Adapter
from connector.errors import AdapterError
from connector.sync.dispatcher import Dispatcher, rate_limits
from connector.sync.outbox import Outbox
from connector.sync.wiring import build_adapters, close_adapters

log = logs.get_logger(__name__)


async def enqueue_calls(
    outbox: Outbox, adapters: Mapping[str, Adapter], documents: Iterable[dict[str, Any]]
) -> int:
    """Journal each call and queue its jobs; returns how many jobs were new."""
    added = 0
    for data in documents:
        added += await outbox.record_call(call_from_dict(data), adapters.values())
    return added


async def remaining(outbox: Outbox, adapters: Iterable[str]) -> int:
    """Jobs of these adapters still to deliver (pending or running)."""
    stats = await outbox.stats()
    return sum(stats.adapters[name].depth for name in adapters if name in stats.adapters)


async def drain(
    outbox: Outbox,
    dispatcher: Dispatcher,
    changed: asyncio.Event,
    stop: asyncio.Event,
    within: float | None = None,
) -> bool:
    """Run `dispatcher` until its adapters have nothing left (True), or `stop`/`within` s (False)."""
    deadline = None if within is None else time.monotonic() + within
    poll = dispatcher.settings.poll_seconds
    await dispatcher.start()
    try:
        while await remaining(outbox, dispatcher.pools):
            if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return False
            changed.clear()
            wait = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await _first(changed, stop)
        return True
    finally:
        await dispatcher.stop()


async def _first(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def start_adapters(adapters: Mapping[str, Adapter]) -> None:
    """`start()` each adapter; one that is not ready is logged and its jobs retry as usual."""
    for name, adapter in adapters.items():
        try:
            await adapter.start()
        except AdapterError as exc:
            log.warning("adapter.not_ready", adapter=name, error=str(exc))


async def run_enqueue(settings: Settings, outbox: Outbox, documents: list[dict[str, Any]]) -> int:
    """`outbox enqueue-json`: queue `documents` for every enabled adapter."""
    async with aiohttp.ClientSession() as session:
        adapters = build_adapters(settings, outbox, session)
        try:
            return await enqueue_calls(outbox, adapters, documents)
        finally:
            await close_adapters(adapters)


async def run_drain(settings: Settings, outbox: Outbox, stop: asyncio.Event, within: float | None) -> bool:
    """`outbox drain`: deliver with every enabled adapter until nothing is left."""
    changed = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        adapters = build_adapters(settings, outbox, session)
        try:
            await start_adapters(adapters)
            dispatcher = Dispatcher(
                outbox,
                adapters,
                settings.outbox,
                limits=rate_limits(settings.adapters),
                listener=lambda _: changed.set(),
            )
            done = await drain(outbox, dispatcher, changed, stop, within)
            log.info("outbox.drain_finished", drained=done, outcomes=dispatcher.counts)
            return done
        finally:
            await close_adapters(adapters)

"""The dispatcher: one worker pool per adapter, plus housekeeping, started and stopped as one.

Each adapter has its own workers and rate limiter, so a slow or failing CRM delays only itself;
nothing here runs on the AMI reader's path (the service only awaits `Outbox.record_*`).
Shutdown is staged: stop claiming → let deliveries in flight finish within the grace period →
cancel the rest → let each ledger write the verdicts given → hand the jobs still leased straight
back to the queue (no waiting for leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connector import logs
from connector.config import OutboxSettings
from connector.crm import Adapter
from connector.errors import StorageError
from connector.sync.jobs import JobState, RetryPolicy
from connector.sync.outbox import Outbox
from connector.sync.pool import AdapterPool, Health, Outcome
from connector.sync.ratelimit import RateLimit

log = logs.get_logger(__name__)

DAY = 86400.0
HOUSEKEEPING_EVERY = 3600.0  # seconds between retention sweeps
LEDGER_FLUSH = 5.0  # seconds the ledgers get, once the workers are gone, to write their verdicts


def owner_alive(owner: str) -> bool:
    """Whether the process that wrote lease mark `owner` ("<pid>-<random>") may still be running."""
    pid_text = owner.partition("-")[0]
    if not pid_text.isdigit():
        return True  # not ours to judge: wait for its lease to expire
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def rate_limits(adapter_settings: Mapping[str, Any]) -> dict[str, RateLimit | None]:
    """Each adapter's `rate_limit` from its settings dataclass (None when it has none)."""
    found: dict[str, RateLimit | None] = {}
    for name, settings in adapter_settings.items():
        limit = getattr(settings, "rate_limit", None)
        found[name] = limit if isinstance(limit, RateLimit) else None
    return found


class Dispatcher:
    """Runs every adapter's pool over one outbox."""

    def __init__(
        self,
        outbox: Outbox,
        adapters: Mapping[str, Adapter],
        settings: OutboxSettings,
        *,
        limits: Mapping[str, RateLimit | None] | None = None,
        listener: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        # The pid lets the next run on this host requeue a killed run's jobs at once (no lease wait).
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.listener = listener
        limits = limits or {}
        self.pools = {
            name: AdapterPool(
                adapter, outbox, settings, limit=limits.get(name), owner=self.owner, report=self._report
            )
            for name, adapter in adapters.items()
        }
        self.counts: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ledgers: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Requeue jobs left by a dead run, then start every pool and the housekeeping task."""
        lost = [owner for owner in await self.outbox.lease_owners() if not owner_alive(owner)]
        reaped = await self.outbox.reap(self.settings.max_attempts, lost)
        if reaped:
            log.info("outbox.recovered_jobs", count=reaped)
        self.outbox.subscribe(self._wake)
        for name, pool in self.pools.items():
            for number in range(pool.concurrency):
                self._spawn(pool.worker(), f"outbox-{name}-{number}", self._tasks)
            self._spawn(pool.ledger(), f"outbox-{name}-ledger", self._ledgers)
        self._spawn(self._housekeeping(), "outbox-housekeeping", self._tasks)
        log.info("dispatcher.started", adapters=sorted(self.pools), owner=self.owner)

    @staticmethod
    def _spawn(coro: Any, name: str, tasks: set[asyncio.Task[None]]) -> None:
        task = asyncio.create_task(coro, name=name)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming, let deliveries in flight finish within `grace` s, cancel the rest."""
        grace = self.settings.shutdown_grace if grace is None else grace
        self.outbox.unsubscribe(self._wake)
        self._stopping.set()
        for pool in self.pools.values():
            pool.stop()
        await _finish(set(self._tasks), grace)
        # The workers are gone: each ledger writes what they decided (acks first), then leaves.
        await _finish(set(self._ledgers), LEDGER_FLUSH)
        released = await self.outbox.release(self.owner)
        log.info("dispatcher.stopped", released=released)

    def health(self) -> dict[str, Health]:
        """Each adapter's availability: ok, unavailable (paused) or parked (credentials refused)."""
        return {name: pool.health for name, pool in self.pools.items()}

    def _wake(self, adapters: Iterable[str]) -> None:
        names = set(adapters)
        for name, pool in self.pools.items():
            if name in names or "*" in names:
                pool.wakeup.set()

    def _report(self, outcome: Outcome) -> None:
        self.counts[outcome.result] = self.counts.get(outcome.result, 0) + 1
        if self.listener is not None:
            self.listener(outcome)

    async def _housekeeping(self) -> None:
        """Requeue jobs of lost workers and apply the retention settings, until stopped."""
        reap_every = max(0.05, self.settings.lease_seconds / 2)
        last_sweep = -HOUSEKEEPING_EVERY
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(reap_every):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            try:
                longest = max(
                    self.settings.backoff_max, self.settings.park_seconds, RetryPolicy().retry_after_max
                )
                clamped = await self.outbox.clamp_future(longest, self.settings.lease_seconds)
                if await self.outbox.reap(self.settings.max_attempts) or clamped:
                    self._wake(["*"])
                if time.monotonic() - last_sweep >= HOUSEKEEPING_EVERY:
                    last_sweep = time.monotonic()
                    await sweep(self.outbox, self.settings)
            except StorageError as exc:
                log.error("outbox.storage_error", task="housekeeping", error=str(exc))


async def _finish(tasks: set[asyncio.Task[None]], within: float) -> None:
    """Let `tasks` end within `within` s, cancel the late ones, and log any that failed."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=within)
    for task in late:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("dispatcher.task_failed", error=repr(result))


async def sweep(outbox: Outbox, settings: OutboxSettings) -> dict[str, int]:
    """Delete delivered jobs, old dead letters and journalled calls past their retention."""
    removed = {
        "delivered": await outbox.purge(JobState.DELIVERED, settings.delivered_retention_days * DAY),
        "dead": await outbox.purge(JobState.DEAD, settings.dead_retention_days * DAY),
        "journal": await outbox.purge_journal(settings.journal_retention_days * DAY),
    }
    if any(removed.values()):
        log.info("outbox.retention", **removed)
    return removed

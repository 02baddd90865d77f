"""One adapter's workers: claim a job, wait for the rate limiter, perform it, record the outcome.

Errors decide what happens next: delivered → ack; `TransientError` → retry later with backoff
(the CRM's Retry-After honoured, and then the whole adapter pauses, since the limit is per
integration); `AuthError` → the job goes back without losing an attempt and the adapter is parked
(alert logged once); `PermanentError` or too many attempts → dead letter with the CRM's message.
A CRM failing several jobs in a row is "unavailable" and paused as a whole, so an outage costs
one probe at a time rather than a failed attempt on every queued job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

from connector import logs
from connector.config import OutboxSettings
from connector.crm import Adapter, JobKind
from connector.errors import AuthError, PermanentError, StorageError, TransientError
from connector.sync.jobs import Job, RetryPolicy
from connector.sync.outbox import Outbox
from connector.sync.ratelimit import RateLimit, TokenBucket

log = logs.get_logger(__name__)

Result = Literal["delivered", "retry", "dead", "parked", "lost"]
HealthState = Literal["ok", "unavailable", "parked"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one try of one job (for metrics, tests and the `drain` command)."""

    adapter: str
    job_id: int
    key: str
    kind: JobKind
    result: Result
    attempts: int
    delay: float | None = None  # seconds until the next try, for "retry" and "parked"
    error: str | None = None


@dataclass(slots=True)
class Health:
    """An adapter's availability as the workers see it."""

    state: HealthState = "ok"
    failures: int = 0  # transient failures in a row
    resume_at: float = 0.0  # monotonic time before which no job is claimed
    reason: str | None = None


class AdapterPool:
    """The workers, rate limiter and health of one adapter."""

    def __init__(
        self,
        adapter: Adapter,
        outbox: Outbox,
        settings: OutboxSettings,
        *,
        limit: RateLimit | None,
        owner: str,
        report: Callable[[Outcome], None],
    ) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.outbox = outbox
        self.settings = settings
        self.policy = RetryPolicy(settings.max_attempts, settings.backoff_min, settings.backoff_max)
        self.bucket = TokenBucket(limit) if limit else None
        self.concurrency = limit.concurrency if limit else settings.concurrency
        self.owner = owner
        self.report = report
        self.health = Health()
        self.wakeup = asyncio.Event()
        self.stopping = asyncio.Event()

    async def worker(self) -> None:
        """Deliver this adapter's jobs until asked to stop."""
        carried: Job | None = None  # claimed together with the last ack
        while not self.stopping.is_set():
            try:
                carried = await self._step(carried)
            except StorageError as exc:
                # Isolation boundary: the file may come back (lock released); say so and wait.
                log.error("outbox.storage_error", adapter=self.name, error=str(exc))
                carried = None  # its lease runs out and it is claimed again
                await _wait(self.stopping, self.settings.poll_seconds)

    async def _step(self, carried: Job | None) -> Job | None:
        if carried is not None:
            return await self.run(carried)
        pause = self.health.resume_at - time.monotonic()
        if pause > 0:
            await _wait(self.stopping, pause)
            return None
        self.wakeup.clear()  # before claiming, so a job added meanwhile still wakes us
        jobs = await self.outbox.claim(self.name, self.owner, self.settings.lease_seconds)
        if jobs:
            return await self.run(jobs[0])
        await self._idle()
        return None

    async def _idle(self) -> None:
        due = await self.outbox.next_due(self.name)
        timeout = self.settings.poll_seconds
        if due is not None:
            timeout = min(timeout, max(0.005, due - self.outbox.clock()))
        await _wait(self.wakeup, timeout)

    def stop(self) -> None:
        """Stop claiming; idle workers leave at once, busy ones after their job."""
        self.stopping.set()
        self.wakeup.set()

    async def run(self, job: Job) -> Job | None:
        """Perform one claimed job and record what happened; may hand back the next job."""
        with structlog.contextvars.bound_contextvars(adapter=self.name, conversation=job.conversation):
            if self.bucket is not None:
                await self.bucket.acquire()
            try:
                async with asyncio.timeout(self.settings.job_timeout):
                    await self.adapter.perform(job.kind, job.payload)
            except TransientError as exc:
                await self._transient(job, str(exc), exc.retry_after)
            except AuthError as exc:
                await self._park(job, str(exc))
            except PermanentError as exc:
                await self._dead(job, str(exc))
            except TimeoutError:
                await self._transient(job, f"no answer within {self.settings.job_timeout:g} s", None)
            except Exception as exc:
                # Isolation boundary: a bug in one adapter must not stop its workers; it is
                # retried like a transient failure and dead-lettered when attempts run out.
                log.exception("adapter.unexpected_error", job=job.id, kind=str(job.kind))
                await self._transient(job, f"unexpected {type(exc).__name__}: {exc}", None)
            else:
                return await self._delivered(job)
        return None

    async def _delivered(self, job: Job) -> Job | None:
        if self.health.state != "ok":
            log.info("adapter.recovered", after=self.health.reason)
        self.health = Health()
        following: Job | None = None
        if self.stopping.is_set():
            kept = await self.outbox.ack(job, self.owner)
        else:
            kept, following = await self.outbox.ack_and_claim(job, self.owner, self.settings.lease_seconds)
        self.wakeup.set()  # the next job of this conversation may now run in another worker
        self._report(job, "delivered" if kept else "lost")
        return following

    async def _transient(self, job: Job, error: str, retry_after: float | None) -> None:
        if self.policy.exhausted(job.attempts):
            await self._dead(job, f"gave up after {job.attempts} attempts: {error}")
            return
        delay = self.policy.delay(job.attempts, retry_after)
        kept = await self.outbox.retry_later(job, self.owner, delay, error)
        log.warning(
            "job.retry",
            job=job.id,
            kind=str(job.kind),
            attempt=job.attempts,
            delay=round(delay, 3),
            error=error,
        )
        self._failed(error, retry_after)
        self._report(job, "retry" if kept else "lost", delay, error)

    def _failed(self, error: str, retry_after: float | None) -> None:
        health = self.health
        health.failures += 1
        if retry_after is not None:
            # The CRM's limit is per integration: every worker of this adapter waits it out.
            health.resume_at = max(health.resume_at, time.monotonic() + retry_after)
        if health.failures >= self.settings.unavailable_after:
            if health.state == "ok":
                log.warning("adapter.unavailable", failures=health.failures, error=error)
            health.state, health.reason = "unavailable", error
            pause = self.policy.delay(health.failures - self.settings.unavailable_after + 1)
            health.resume_at = max(health.resume_at, time.monotonic() + pause)

    async def _park(self, job: Job, error: str) -> None:
        delay = self.settings.park_seconds
        kept = await self.outbox.retry_later(job, self.owner, delay, error, refund=True)
        if self.health.state != "parked":
            log.error("adapter.parked", error=error, probe_in=delay)
        self.health.state, self.health.reason = "parked", error
        self.health.resume_at = time.monotonic() + delay
        self._report(job, "parked" if kept else "lost", delay, error)

    async def _dead(self, job: Job, error: str) -> None:
        kept = await self.outbox.bury(job, self.owner, error)
        log.error("job.dead", job=job.id, kind=str(job.kind), attempts=job.attempts, error=error)
        self._report(job, "dead" if kept else "lost", None, error)

    def _report(self, job: Job, result: Result, delay: float | None = None, error: str | None = None) -> None:
        self.report(Outcome(self.name, job.id, job.key, job.kind, result, job.attempts, delay, error))


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event`, at most `seconds`."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()

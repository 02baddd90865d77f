"""One adapter's delivery: workers perform jobs, one ledger task claims and settles them in batches.

Errors decide what happens next: delivered → ack; `TransientError` → retry later with backoff
(the CRM's Retry-After honoured, and then the whole adapter pauses, since the limit is per
integration); `AuthError` → the job goes back without losing an attempt and the adapter is parked
(alert logged once); `PermanentError` or too many attempts → dead letter with the CRM's message.
A CRM failing several jobs in a row is "unavailable" and paused as a whole, so an outage costs
one probe at a time rather than a failed attempt on every queued job.

Throughput: workers never touch the database. Each hands its verdict to the ledger and takes the
next job from the `ready` queue; the ledger writes every verdict given meanwhile and claims as
many jobs as there are idle workers in ONE commit (`Outbox.settle`), so a busy adapter costs one
transaction per batch, not two per job. Besides the jobs running, up to `concurrency` more wait
ready, so a worker never idles while the ledger commits. A ready job must start while its lease
still covers a whole `job_timeout`, or it goes back unrun: `job_timeout < lease_seconds` still
means a job is never run twice by live workers.
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
from connector.sync.jobs import Job, RetryPolicy, Settlement, Verdict
from connector.sync.outbox import Outbox
from connector.sync.ratelimit import RateLimit, TokenBucket

log = logs.get_logger(__name__)

Result = Literal["delivered", "retry", "dead", "parked", "lost"]
HealthState = Literal["ok", "unavailable", "parked"]
# What each verdict is reported as once written; a job handed back unrun is not an outcome.
_RESULTS: dict[Verdict, Result | None] = {
    "delivered": "delivered",
    "retry": "retry",
    "parked": "parked",
    "dead": "dead",
    "released": None,
}


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
    """The workers, ledger, rate limiter and health of one adapter."""

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
        self.wakeup = asyncio.Event()  # new jobs committed, a verdict given, or stop: the ledger looks
        self.stopping = asyncio.Event()
        # Claimed jobs with the monotonic time they must start by; None: a worker's signal to leave.
        self.ready: asyncio.Queue[tuple[Job, float] | None] = asyncio.Queue()
        self.verdicts: list[Settlement] = []  # given, not yet written (bounded: one per job in hand)
        self.busy = 0  # jobs being performed

    # -- workers ---------------------------------------------------------------------------

    async def worker(self) -> None:
        """Perform the jobs the ledger hands out until asked to stop."""
        while (item := await self.ready.get()) is not None:
            self.busy += 1
            try:
                self._give(await self._perform_or_hand_back(*item))
            finally:
                self.busy -= 1
                self.wakeup.set()

    async def _perform_or_hand_back(self, job: Job, start_by: float) -> Settlement:
        now = time.monotonic()
        pause = self.health.resume_at - now
        if pause > 0 or self.stopping.is_set() or now > start_by:
            # Claimed before the adapter paused (or the stop), or waited too long for its lease:
            # back unrun, attempt refunded.
            return Settlement(job, "released", max(0.0, pause))
        return await self.run(job)

    def _give(self, settlement: Settlement) -> None:
        self.verdicts.append(settlement)
        self.wakeup.set()

    def stop(self) -> None:
        """Stop claiming; idle workers leave at once, busy ones after their job, unrun jobs go back."""
        self.stopping.set()
        while not self.ready.empty():
            item = self.ready.get_nowait()
            if item is not None:
                self._give(Settlement(item[0], "released"))
        for _ in range(self.concurrency):
            self.ready.put_nowait(None)
        self.wakeup.set()

    # -- the ledger ------------------------------------------------------------------------

    async def ledger(self) -> None:
        """Write verdicts and claim jobs for idle workers, one commit per round, until stopped.

        It leaves once stopping with no job in hand and every verdict written; a verdict that
        could not be written (disk full, file locked) is tried again, and its job's lease keeps
        it from running twice meanwhile.
        """
        while not (self.stopping.is_set() and self.busy == 0 and not self.verdicts):
            self.wakeup.clear()
            room = self._room()
            if (self.verdicts or room) and await self._round(room):
                continue  # more may have come meanwhile: look again before idling
            await self._idle(room)

    async def _round(self, room: int) -> bool:
        """One commit: the verdicts given so far, and `room` jobs claimed; whether anything moved."""
        given, self.verdicts = self.verdicts, []
        start_by = time.monotonic() + self.settings.lease_seconds - self.settings.job_timeout
        try:
            kept, jobs = await self.outbox.settle(
                self.owner, given, adapter=self.name, claim=room, lease_seconds=self.settings.lease_seconds
            )
        except StorageError as exc:
            # Isolation boundary: the file may come back (lock released); say so and wait.
            log.error("outbox.storage_error", adapter=self.name, error=str(exc))
            self.verdicts[:0] = given
            await asyncio.sleep(self.settings.poll_seconds)
            return False
        self._written(given, kept)
        self._hand_out(jobs, start_by)
        return bool(given or jobs)

    def _room(self) -> int:
        """How many more jobs to claim: a job running and one ready per worker; none while paused."""
        if self.stopping.is_set() or self.health.resume_at > time.monotonic():
            return 0
        return max(0, 2 * self.concurrency - self.busy - self.ready.qsize())

    def _hand_out(self, jobs: list[Job], start_by: float) -> None:
        for job in jobs:
            if self.stopping.is_set():
                self.verdicts.append(Settlement(job, "released"))
            else:
                self.ready.put_nowait((job, start_by))

    def _written(self, given: list[Settlement], kept: list[bool]) -> None:
        for settlement, held in zip(given, kept, strict=True):
            result = _RESULTS[settlement.verdict] if held else "lost"
            if result is not None:
                self._report(settlement.job, result, settlement.delay or None, settlement.error)

    async def _idle(self, room: int) -> None:
        """Wait for a verdict, new jobs, the next due time, the end of a pause, or the poll."""
        timeout = self.settings.poll_seconds
        pause = self.health.resume_at - time.monotonic()
        if pause > 0:
            timeout = min(timeout, pause)
        elif room:
            due = await self.outbox.next_due(self.name)
            if due is not None:
                timeout = min(timeout, max(0.005, due - self.outbox.clock()))
        await _wait(self.wakeup, timeout)

    # -- one job ---------------------------------------------------------------------------

    async def run(self, job: Job) -> Settlement:
        """Perform one claimed job and say what is to become of it."""
        with structlog.contextvars.bound_contextvars(adapter=self.name, conversation=job.conversation):
            if self.bucket is not None:
                await self.bucket.acquire()
            try:
                async with asyncio.timeout(self.settings.job_timeout):
                    await self.adapter.perform(job.kind, job.payload)
            except TransientError as exc:
                return self._transient(job, str(exc), exc.retry_after)
            except AuthError as exc:
                return self._park(job, str(exc))
            except PermanentError as exc:
                return self._dead(job, str(exc))
            except TimeoutError:
                return self._transient(job, f"no answer within {self.settings.job_timeout:g} s", None)
            except Exception as exc:
                # Isolation boundary: a bug in one adapter must not stop its workers; it is
                # retried like a transient failure and dead-lettered when attempts run out.
                log.exception("adapter.unexpected_error", job=job.id, kind=str(job.kind))
                return self._transient(job, f"unexpected {type(exc).__name__}: {exc}", None)
        if self.health.state != "ok":
            log.info("adapter.recovered", adapter=self.name, after=self.health.reason)
        self.health = Health()
        return Settlement(job, "delivered")

    def _transient(self, job: Job, error: str, retry_after: float | None) -> Settlement:
        if self.policy.exhausted(job.attempts):
            return self._dead(job, f"gave up after {job.attempts} attempts: {error}")
        delay = self.policy.delay(job.attempts, retry_after)
        log.warning(
            "job.retry",
            job=job.id,
            kind=str(job.kind),
            attempt=job.attempts,
            delay=round(delay, 3),
            error=error,
        )
        self._failed(error, retry_after)
        return Settlement(job, "retry", delay, error)

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

    def _park(self, job: Job, error: str) -> Settlement:
        delay = self.settings.park_seconds
        if self.health.state != "parked":
            log.error("adapter.parked", error=error, probe_in=delay)
        self.health.state, self.health.reason = "parked", error
        self.health.resume_at = time.monotonic() + delay
        return Settlement(job, "parked", delay, error)

    def _dead(self, job: Job, error: str) -> Settlement:
        log.error("job.dead", job=job.id, kind=str(job.kind), attempts=job.attempts, error=error)
        return Settlement(job, "dead", error=error)

    def _report(self, job: Job, result: Result, delay: float | None = None, error: str | None = None) -> None:
        self.report(Outcome(self.name, job.id, job.key, job.kind, result, job.attempts, delay, error))


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event`, at most `seconds`."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()

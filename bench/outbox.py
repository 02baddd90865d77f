"""Outbox delivery figures: throughput to a loopback receiver, and latency at a steady call rate.

1. Deliveries/s through outbox → dispatcher → webhook adapter → the fake receiver (a separate
   process, no rate limit), for synchronous=full and =normal, against a baseline in the same
   run: the same signed POSTs sent straight with aiohttp (no outbox), at the same concurrency.
   "Before" is the delivery loop the dispatcher had until issue 20, reproduced here over the
   same outbox: each worker claims one job, performs it, and writes its ack with the next claim
   in a commit of its own, fsynced (synchronous=full). "After" is the dispatcher: verdicts of
   all workers and the claims for idle ones in one commit per round, delivery bookkeeping not
   fsynced (enqueues still are).
2. Latency from "call finished" (`record_call` called) to "delivered" (the call's last job
   acknowledged in the outbox) at a steady 50 calls/s, p50/p99, and the process's peak RSS.

Run: `python -m bench.outbox` (or `python -m bench outbox`).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.webhook import Settings as WebhookSettings
from adapters.webhook import create
from adapters.webhook.client import sign
from connector import logs
from connector.calls.model import Call, Direction, Disposition
from connector.config import OutboxSettings
from connector.crm import AdapterContext
from connector.settings_schema import Secret
from connector.sync.dispatcher import Dispatcher
from connector.sync.jobs import Settlement
from connector.sync.outbox import Outbox
from connector.sync.pool import Outcome

SECRET = "bench-secret-0123456789"
CONCURRENCY = 8
THROUGHPUT_CALLS = 2000
STEADY_RATE = 50.0
STEADY_SECONDS = 20.0
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def make_call(n: int, recording: bool) -> Call:
    """A typical answered inbound call; each run uses its own range of `n` (the receiver keeps keys)."""
    start = T0 + timedelta(seconds=n)
    return Call(
        id=f"{1_800_000_000 + n}.{n}",
        linkedids=(f"{1_800_000_000 + n}.{n}",),
        direction=Direction.INBOUND,
        client="+79161234567",
        did="74951110001",
        started_at=start,
        answered_at=start + timedelta(seconds=5),
        ended_at=start + timedelta(seconds=65),
        disposition=Disposition.ANSWERED,
        rang=("201", "202"),
        answered_by="202",
        recordings=(f"/rec/{n}.mp3",) if recording else (),
    )


@asynccontextmanager
async def receiver() -> AsyncIterator[str]:
    """The fake webhook receiver in its own process; yields its URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.webhook_server", "--secret", SECRET, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    async with asyncio.timeout(10):
        line = (await process.stdout.readline()).decode().strip()
    try:
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        await process.wait()


async def baseline(url: str, count: int) -> float:
    """Requests/s of signed POSTs sent straight, `CONCURRENCY` at a time."""
    bodies = [
        json.dumps({"event": "call.finished", "call": make_call(n, False).to_dict()}).encode()
        for n in range(count)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            headers = {"Idempotency-Key": str(hash(body)), "X-Connector-Signature": sign(SECRET, body)}
            async with session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as r:
                await r.read()

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(CONCURRENCY)))
        return count / (time.perf_counter() - started)


class Watch:
    """Counts finished jobs (delivered or dead) and wakes whoever waits for a number of them."""

    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}
        self.dead = 0
        self.changed = asyncio.Event()

    def __call__(self, outcome: Outcome) -> None:
        if outcome.result == "delivered":
            self.delivered[outcome.key] = time.perf_counter()
        self.dead += outcome.result == "dead"
        self.changed.set()

    async def until(self, count: int) -> None:
        while len(self.delivered) + self.dead < count:
            self.changed.clear()
            await self.changed.wait()


@asynccontextmanager
async def pipeline(
    url: str, directory: Path, settings: OutboxSettings, watch: Watch
) -> AsyncIterator[tuple[Outbox, Any, Dispatcher]]:
    """An outbox, a webhook adapter to `url` and a dispatcher, torn down in reverse order."""
    outbox = await Outbox.open(directory / "outbox.db", synchronous=settings.synchronous)
    async with aiohttp.ClientSession() as session:
        adapter = create(
            WebhookSettings(url=url, secret=Secret(SECRET)),
            AdapterContext("webhook", session, outbox.state("webhook"), lambda p: f"https://pbx/r?{p}"),
        )
        dispatcher = Dispatcher(outbox, {"webhook": adapter}, settings, listener=watch)
        try:
            yield outbox, adapter, dispatcher
        finally:
            await dispatcher.stop()
            await outbox.close()


async def throughput(url: str, synchronous: str, first: int) -> tuple[float, float]:
    """(calls journalled/s, deliveries/s) for `THROUGHPUT_CALLS` calls, one job each."""
    settings = OutboxSettings(concurrency=CONCURRENCY, synchronous=synchronous)  # type: ignore[arg-type]
    watch = Watch()
    with tempfile.TemporaryDirectory() as tmp:
        async with pipeline(url, Path(tmp), settings, watch) as (outbox, adapter, dispatcher):
            started = time.perf_counter()
            for n in range(first, first + THROUGHPUT_CALLS):
                await outbox.record_call(make_call(n, False), [adapter])
            enqueue_rate = THROUGHPUT_CALLS / (time.perf_counter() - started)
            started = time.perf_counter()
            await dispatcher.start()
            await watch.until(THROUGHPUT_CALLS)
            assert watch.dead == 0, "dead letters in a benchmark: see the log"
            delivery_rate = THROUGHPUT_CALLS / (time.perf_counter() - started)
    return enqueue_rate, delivery_rate


async def per_job(url: str, first: int, durable: bool) -> float:
    """Deliveries/s of the pre-issue-20 loop: one commit per job (see the docstring).

    `durable=False` shows what batching adds beyond leaving the bookkeeping unsynced.
    """
    settings = OutboxSettings(concurrency=CONCURRENCY)
    delivered = 0

    async def worker(outbox: Outbox, adapter: Any) -> None:
        nonlocal delivered
        _, jobs = await outbox.settle("per-job", (), adapter="webhook", claim=1, durable=durable)
        while jobs:
            await adapter.perform(jobs[0].kind, jobs[0].payload)
            done = [Settlement(jobs[0], "delivered")]
            _, jobs = await outbox.settle("per-job", done, adapter="webhook", claim=1, durable=durable)
            delivered += 1

    with tempfile.TemporaryDirectory() as tmp:
        async with pipeline(url, Path(tmp), settings, Watch()) as (outbox, adapter, _):
            for n in range(first, first + THROUGHPUT_CALLS):
                await outbox.record_call(make_call(n, False), [adapter])
            started = time.perf_counter()
            await asyncio.gather(*(worker(outbox, adapter) for _ in range(CONCURRENCY)))
            rate = delivered / (time.perf_counter() - started)
    assert delivered == THROUGHPUT_CALLS, "the per-job loop left jobs behind"
    return rate


async def steady(url: str, first: int) -> list[float]:
    """Seconds from `record_call` to the call's last job delivered, at `STEADY_RATE` calls/s."""
    settings = replace(OutboxSettings(), concurrency=CONCURRENCY)
    watch = Watch()
    count = int(STEADY_RATE * STEADY_SECONDS)
    finished: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with pipeline(url, Path(tmp), settings, watch) as (outbox, adapter, dispatcher):
            await dispatcher.start()
            origin = time.perf_counter()
            for n in range(count):
                delay = origin + n / STEADY_RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the producer is the point here
                call = make_call(first + n, True)
                finished[call.id] = time.perf_counter()
                await outbox.record_call(call, [adapter])
            await watch.until(2 * count)
            assert watch.dead == 0, "dead letters in a benchmark: see the log"
    return [watch.delivered[f"webhook:{cid}:attach_recording"] - at for cid, at in finished.items()]


def percentile(values: list[float], share: float) -> float:
    """The `share` (0..1) percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run() -> None:
    """Every figure, printed as it is measured."""
    async with receiver() as url:
        base = await baseline(url, THROUGHPUT_CALLS)
        print(
            f"baseline: {base:,.0f} signed POSTs/s straight to the receiver ({CONCURRENCY} in flight)",
            flush=True,
        )
        before = await per_job(url, 50_000, durable=True)
        print(
            f"before (one fsynced commit per job, synchronous=full): delivery {before:,.0f} jobs/s"
            f" ({before / base:.0%} of baseline)",
            flush=True,
        )
        unsynced = await per_job(url, 60_000, durable=False)
        print(
            f"one commit per job, not fsynced (bookkeeping as now, no batching): delivery"
            f" {unsynced:,.0f} jobs/s ({unsynced / base:.0%} of baseline)",
            flush=True,
        )
        for run_number, synchronous in enumerate(("full", "normal"), start=1):
            enqueue, delivered = await throughput(url, synchronous, run_number * 100_000)
            print(
                f"after, synchronous={synchronous}: record_call {enqueue:,.0f} calls/s; "
                f"delivery {delivered:,.0f} jobs/s ({delivered / base:.0%} of baseline,"
                f" {delivered / before:.1f}x before)",
                flush=True,
            )
        latencies = await steady(url, 900_000)
        p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000
        print(
            f"steady {STEADY_RATE:.0f} calls/s for {STEADY_SECONDS:.0f} s"
            f" ({len(latencies)} calls, 2 jobs each, synchronous=full): finished→delivered"
            f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.1f} MiB")


def main() -> None:
    """Run the outbox benchmark."""
    logs.configure("warning", "console")
    asyncio.run(run())


if __name__ == "__main__":
    main()

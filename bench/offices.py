"""Many PBXs, one CRM: two offices' connectors delivering finished calls into one built-in CRM.

The CRM is the real app (`routes.setup` on `create_app`) in a process of its own on 127.0.0.1,
with an ingest token issued for each office (offices.py). Each office is played by what its
connector runs: its own outbox (a SQLite file), dispatcher and `webhook` adapter pointed at
POST /api/crm/ingest with its token. Measured, in one run:
1. steady: two connectors at `--rate` calls/s each for `--seconds`; finished → visible in the CRM,
   p50/p99: from `record_call` (the call handed to the connector) to the outbox's "delivered"
   verdict for its job. The CRM answers 200 only after the call's row is committed, so the row is
   readable (GET /api/crm/calls/{office}:{id}) before this moment: it is an upper bound, the
   connector's own bookkeeping commit included. Every call is then read back over HTTP.
2. baseline in the same run: one connector alone at the same rate, and `Calls.save` called
   directly on a store of the same back end (no HTTP, no outbox) at the combined rate.
3. ingest rate: calls queued in each outbox first, then the dispatchers started; calls/s the CRM
   took until all were delivered, for one connector and for two, and direct `Calls.save` in a loop.
Figures only: nothing here asserts on time.

    python -m bench.offices [--backend sqlite|postgresql] [--rate N] [--seconds N] [--burst N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.builtin import routes
from adapters.builtin.db import PostgresTarget, Target
from adapters.builtin.offices import IngestTokens
from adapters.builtin.store import Store
from adapters.webhook import Settings as WebhookSettings
from adapters.webhook import create
from connector import logs
from connector.api.app import create_app
from connector.calls.model import Call, Direction, Disposition, Leg
from connector.config import HttpSettings, OutboxSettings
from connector.crm import Adapter, AdapterContext, JobKind
from connector.settings_schema import Secret
from connector.sync.dispatcher import Dispatcher
from connector.sync.outbox import Outbox
from connector.sync.pool import Outcome

OFFICES = ("spb", "ekb")
SECRET = "bench-offices-secret-0123456789"
ADMIN = "bench-offices-admin-token"
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def make_call(n: int) -> Call:
    """A finished call of a remote office: three in four answered, numbers and extensions varied."""
    start = T0 + timedelta(seconds=n)
    answered = n % 4 != 0
    ext = f"{200 + n % 12}"
    legs = (Leg(ext, start + timedelta(seconds=5), start + timedelta(seconds=65)),) if answered else ()
    return Call(
        id=f"{1_800_000_000 + n}.{n}",
        linkedids=(f"{1_800_000_000 + n}.{n}",),
        direction=Direction.INBOUND if n % 3 else Direction.OUTBOUND,
        client=f"+7916{n % 5000:07d}",
        did="74951110001",
        started_at=start,
        answered_at=start + timedelta(seconds=5) if answered else None,
        ended_at=start + timedelta(seconds=65 if answered else 20),
        disposition=Disposition.ANSWERED if answered else Disposition.NO_ANSWER,
        answered_by=ext if answered else None,
        rang=(ext,),
        legs=legs,
    )


def _target(where: str) -> Target:
    return PostgresTarget(where) if where.startswith("postgresql://") else Path(where)


# ---- the CRM, in its own process -------------------------------------------------------------


async def serve(where: str) -> None:
    """Open the store, issue the offices' tokens, serve the app and print its URL and the tokens."""
    store = await Store.open(_target(where))
    await store.employees.create("Администратор", "100", "admin", ADMIN)
    tokens = {office: (await IngestTokens(store.db).issue(office))["token"] for office in OFFICES}
    app = create_app(HttpSettings())
    routes.setup(app, store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"url": f"http://127.0.0.1:{runner.addresses[0][1]}", "tokens": tokens}), flush=True)
    await stop.wait()
    await runner.cleanup()
    await store.close()


@dataclass
class Crm:
    """The CRM process seen from the connectors: its URL, the offices' tokens."""

    url: str
    tokens: dict[str, str]
    process: asyncio.subprocess.Process

    def cpu(self) -> float:
        """CPU seconds the CRM process has used so far (Linux: /proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def crm(where: str) -> AsyncIterator[Crm]:
    """The CRM served from `where` (a SQLite path or a PostgreSQL URL) in a child process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.offices", "--serve", where, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            ready = json.loads(await process.stdout.readline())
        yield Crm(ready["url"], ready["tokens"], process)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


# ---- the offices' connectors -----------------------------------------------------------------


class Watch:
    """When each job was delivered; wakes whoever waits for a number of them."""

    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}
        self.failed: list[str] = []
        self.changed = asyncio.Event()

    def __call__(self, outcome: Outcome) -> None:
        if outcome.result == "delivered":
            self.delivered[outcome.key] = time.perf_counter()
        elif outcome.result == "dead":
            self.failed.append(outcome.error or outcome.key)
        self.changed.set()

    async def until(self, count: int) -> None:
        """Return when `count` jobs are delivered (or dead)."""
        async with asyncio.timeout(300):
            while len(self.delivered) + len(self.failed) < count:
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Office:
    """One remote office's connector: outbox → dispatcher → webhook adapter → the CRM."""

    name: str
    outbox: Outbox
    adapter: Adapter
    dispatcher: Dispatcher
    watch: Watch
    handed: dict[str, float] = field(default_factory=dict)  # job key → when record_call began

    async def hand(self, call: Call) -> None:
        """What the call tracker does when a call ends: journal it with its jobs."""
        self.handed[self.adapter.key_for(JobKind.LOG_CALL, call.to_dict())] = time.perf_counter()
        await self.outbox.record_call(call, [self.adapter])

    def latencies(self) -> list[float]:
        """Seconds from handing each call to its delivery."""
        return [self.watch.delivered[key] - at for key, at in self.handed.items()]


@asynccontextmanager
async def office(stack: AsyncExitStack, name: str, server: Crm, directory: Path) -> AsyncIterator[Office]:
    """A connector for office `name` delivering to `server` (torn down in reverse order)."""
    outbox = await Outbox.open(directory / f"{name}-outbox.db")
    session = await stack.enter_async_context(aiohttp.ClientSession())
    settings = WebhookSettings(
        url=f"{server.url}/api/crm/ingest", secret=Secret(SECRET), token=Secret(server.tokens[name])
    )
    adapter = create(settings, AdapterContext("webhook", session, outbox.state("webhook"), lambda p: p))
    watch = Watch()
    dispatcher = Dispatcher(outbox, {"webhook": adapter}, OutboxSettings(), listener=watch)
    try:
        yield Office(name, outbox, adapter, dispatcher, watch)
    finally:
        await dispatcher.stop()
        await outbox.close()


async def paced(rate: float, count: int, act: Callable[[int], Awaitable[object]]) -> None:
    """Call `act(n)` for n < count at a steady `rate` per second."""
    origin = time.perf_counter()
    for n in range(count):
        delay = origin + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the producer is the point here
        await act(n)


async def steady(offices: list[Office], first: int, rate: float, seconds: float) -> list[float]:
    """Every office hands `rate` calls/s for `seconds`; finished → delivered of all calls."""
    count = int(rate * seconds)
    for each in offices:
        await each.dispatcher.start()
    await asyncio.gather(*(_play(each, first + k * 1_000_000, rate, count) for k, each in enumerate(offices)))
    for each in offices:
        await each.watch.until(len(each.handed))
        assert not each.watch.failed, f"{each.name}: undelivered calls: {each.watch.failed[:3]}"
    return [t for each in offices for t in each.latencies()]


async def _play(each: Office, base: int, rate: float, count: int) -> None:
    async def hand(n: int) -> None:
        await each.hand(make_call(base + n))

    await paced(rate, count, hand)


async def burst(offices: list[Office], first: int, count: int) -> float:
    """Calls/s the CRM takes: `count` calls queued in each outbox, then the dispatchers let go."""
    for k, each in enumerate(offices):
        for n in range(count):
            await each.hand(make_call(first + k * 1_000_000 + n))
    began = time.perf_counter()
    for each in offices:
        await each.dispatcher.start()
    for each in offices:
        await each.watch.until(count)
        assert not each.watch.failed, f"{each.name}: undelivered calls: {each.watch.failed[:3]}"
    return count * len(offices) / (time.perf_counter() - began)


async def visible(server: Crm, offices: list[Office], first: int, count: int) -> int:
    """How many of the steady run's calls GET /api/crm/calls/{office}:{id} finds (after the run)."""
    found = 0
    gate = asyncio.Semaphore(8)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN}"}) as http:

        async def read(call_id: str) -> None:
            nonlocal found
            async with gate, http.get(f"{server.url}/api/crm/calls/{call_id}") as answer:
                found += answer.status == 200

        await asyncio.gather(
            *(
                read(f"{each.name}:{make_call(first + k * 1_000_000 + n).id}")
                for k, each in enumerate(offices)
                for n in range(count)
            )
        )
    return found


# ---- the runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What one run does."""

    rate: float
    seconds: float
    burst: int


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    p50, top = statistics.median(ordered) * 1000, ordered[-1] * 1000
    return f"p50 {p50:6.1f} ms   p99 {p99 * 1000:6.1f} ms   max {top:6.1f} ms"


async def connectors(where: str, plan: Plan, names: tuple[str, ...], directory: Path) -> None:
    """Steady delivery and the ingest rate for `names` offices into one fresh CRM at `where`."""
    label = f"{len(names)} connector{'s' if len(names) > 1 else ''}"
    for sub in ("s", "b"):
        (directory / sub).mkdir(parents=True)
    async with crm(where) as server, AsyncExitStack() as stack:
        cpu_before, crm_before = time.process_time(), server.cpu()
        began = time.perf_counter()
        steady_offices = [
            await stack.enter_async_context(office(stack, n, server, directory / "s")) for n in names
        ]
        latencies = await steady(steady_offices, 0, plan.rate, plan.seconds)
        wall = time.perf_counter() - began
        count = int(plan.rate * plan.seconds)
        reading, crm_reading = time.process_time(), server.cpu()
        seen = await visible(server, steady_offices, 0, count)
        cpu_before += time.process_time() - reading  # the read-back is no delivery's work
        crm_before += server.cpu() - crm_reading
        print(
            f"  {label} at {plan.rate:.0f} calls/s each for {plan.seconds:.0f} s ({len(latencies)} calls):"
            f" finished → delivered {_ms(latencies)}; visible afterwards {seen}/{len(latencies)}",
            flush=True,
        )
        for each in steady_offices:
            await each.dispatcher.stop()
        burst_offices = [
            await stack.enter_async_context(office(stack, n, server, directory / "b")) for n in names
        ]
        rate = await burst(burst_offices, 100_000, plan.burst)
        total = len(latencies) + plan.burst * len(names)
        connector_cpu = (time.process_time() - cpu_before) / total * 1000
        crm_cpu = (server.cpu() - crm_before) / total * 1000
        print(
            f"  {label}, {plan.burst} calls queued in each outbox: the CRM ingested {rate:,.0f} calls/s;"
            f" CPU per call: CRM {crm_cpu:.2f} ms, connectors {connector_cpu:.2f} ms"
            f" (steady part {wall:.1f} s wall)",
            flush=True,
        )


async def direct(target: Target, plan: Plan, offices: int) -> None:
    """Baseline: `Calls.save` on the store itself, paced at the offices' combined rate, then flat out."""
    store = await Store.open(target)
    try:
        spent: list[float] = []

        async def save(n: int) -> None:
            began = time.perf_counter()
            await store.calls.save(make_call(n), OFFICES[n % offices])
            spent.append(time.perf_counter() - began)

        rate = plan.rate * offices
        await paced(rate, int(rate * plan.seconds), save)
        print(
            f"  direct Calls.save at {rate:.0f} calls/s, no HTTP ({len(spent)} calls): {_ms(spent)}",
            flush=True,
        )
        began = time.perf_counter()
        count = plan.burst * offices
        for n in range(count):
            await store.calls.save(make_call(500_000 + n), OFFICES[n % offices])
        print(
            f"  direct Calls.save flat out: {count / (time.perf_counter() - began):,.0f} calls/s", flush=True
        )
    finally:
        await store.close()


async def run(backend: str, plan: Plan) -> None:
    """Baselines first, then the two offices, each into a fresh CRM."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if backend == "sqlite":
            await direct(directory / "direct.db", plan, len(OFFICES))
            await connectors(str(directory / "one.db"), plan, OFFICES[:1], directory / "one")
            await connectors(str(directory / "two.db"), plan, OFFICES, directory / "two")
            return
        from tests import postgres

        cluster = postgres.start()
        try:
            print(f"  PostgreSQL {cluster.bin_dir.parent.name} on 127.0.0.1:{cluster.port} (fsync off)")
            with cluster.fresh_database() as url:
                await direct(PostgresTarget(url), plan, len(OFFICES))
            with cluster.fresh_database() as url:
                await connectors(url, plan, OFFICES[:1], directory / "one")
            with cluster.fresh_database() as url:
                await connectors(url, plan, OFFICES, directory / "two")
        finally:
            cluster.stop()


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> None:
    """`python -m bench.offices`: SQLite, 50 calls/s per office for 20 s, 1000 queued calls each."""
    parser = argparse.ArgumentParser(prog="bench.offices")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rate", type=float, default=50.0, help="calls/s per office")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=1000, help="calls queued per office for the ingest rate")
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)  # the CRM's child process
    args, _ = parser.parse_known_args()
    logs.configure("warning", "console")
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    print(f"  backend {args.backend}, load average {_load()}", flush=True)
    asyncio.run(run(args.backend, Plan(args.rate, args.seconds, args.burst)))
    print(f"  load average at the end {_load()}", flush=True)


if __name__ == "__main__":
    main()

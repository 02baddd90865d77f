"""Analytics reports on a year of calls for a 50-employee company: counting calls vs rollups.

Generates 5,000,000 calls by default (plus their extensions), 20k clients, 20k deals and 50k
comments over a year into a temporary SQLite file (generation, indexing and the rollup build
are timed apart), then, for this month and for the whole year, times each report twice in the
same run: "before" counts the calls (analytics_scan, the first implementation) and "after" reads
the rollups (what the API serves), called directly on the store; then each endpoint over HTTP on
127.0.0.1, next to two baselines: `SELECT count(*) FROM calls` and GET /api/crm/me (the HTTP and
auth cost every request pays). Figures only: nothing here asserts on time.

With `--backend postgresql` the same data goes into a throwaway PostgreSQL server (Debian's
binaries, initdb in a temporary directory, a loopback port, fsync off: tests/postgres.py) and the
calls are bulk-loaded with COPY on the store's own transaction.

    python -m bench.analytics [--backend sqlite|postgresql] [--calls N] [--runs N] [--scan-runs N]
                              [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from adapters.builtin import analytics, rollups, routes, routes_analytics
from adapters.builtin.analytics_rollup import RollupFigures
from adapters.builtin.analytics_scan import ScanFigures
from adapters.builtin.campaigns import Campaigns, ensure_schema
from adapters.builtin.db import Connection, PostgresTarget
from adapters.builtin.periods import Period
from adapters.builtin.store import Store
from connector.api.app import create_app
from connector.config import HttpSettings, Line

TZ = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)
EMPLOYEES = 50
LINES = tuple(Line(f"+7495111{n:04d}", f"Канал {n}") for n in range(10))
TOKEN = "bench-admin-token"
PAD = 150  # bytes of filler per record: the report indexes must not need to read it


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _record(call_id: str, ext: str) -> str:
    # About the size of a real Call.to_dict(): the report indexes must not need to read it.
    legs = [{"extension": ext, "answered_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:01:00Z"}]
    return json.dumps({"id": call_id, "linkedids": [call_id], "rang": [ext], "legs": legs, "pad": "x" * PAD})


def generate_calls(count: int, rng: random.Random) -> Iterator[tuple[tuple[Any, ...], list[str]]]:
    """Call rows spread over the year before NOW, with the extensions each involved."""
    start = NOW - timedelta(days=365)
    span = int((NOW - start).total_seconds())
    for n in range(count):
        began = start + timedelta(seconds=rng.randrange(span))
        kind = rng.random()
        ext = str(100 + rng.randrange(EMPLOYEES))
        direction = "inbound" if kind < 0.55 else "outbound" if kind < 0.95 else "internal"
        answered = rng.random() < 0.8
        did = None
        if direction == "inbound":
            did = rng.choice(LINES).number.lstrip("+") if rng.random() < 0.6 else "74950000000"
        talk = rng.randrange(10, 600) if answered else 0
        call_id = f"{1_700_000_000 + n}.{n}"
        row = (
            call_id, direction, f"+7916{rng.randrange(10**7):07d}", did, _iso(began),
            _iso(began + timedelta(seconds=5)) if answered else None,
            _iso(began + timedelta(seconds=5 + talk)), "answered" if answered else "missed", talk, 5, ext,
            _record(call_id, ext),
        )  # fmt: skip
        rang = [ext] if answered else [ext, str(100 + rng.randrange(EMPLOYEES))]
        yield row, list(dict.fromkeys(rang))


async def fill(store: Store, calls: int) -> None:
    """Bulk-load employees, calls, clients, deals and comments."""
    rng = random.Random(20261120)
    for n in range(EMPLOYEES):
        role = "admin" if n == 0 else "manager" if n < 3 else "employee"
        await store.employees.create(f"Сотрудник {n}", str(100 + n), role, TOKEN if n == 0 else None)
    batch: list[tuple[Any, ...]] = []
    exts: list[tuple[str, str]] = []
    for row, involved in generate_calls(calls, rng):
        batch.append(row)
        exts += [(row[0], e) for e in involved]
        if len(batch) >= 200_000:
            await _write_calls(store, batch, exts)
            batch, exts = [], []
    await _write_calls(store, batch, exts)
    await _fill_crm(store, rng)


CALL_COLUMNS = (
    "id, direction, phone, did, started_at, answered_at, ended_at, disposition, talk_seconds,"
    " wait_seconds, employee, record"
)


async def _write_calls(store: Store, rows: list[tuple[Any, ...]], exts: list[tuple[str, str]]) -> None:
    async with store.db.transaction() as conn:
        raw = getattr(conn, "raw", None)  # PostgreSQL: the psycopg connection under the store's
        if raw is not None:
            await _copy(raw, f"calls ({CALL_COLUMNS})", rows)
            await _copy(raw, "call_extensions (call_id, extension)", exts)
            return
        await _insert(conn, rows, exts)


async def _insert(conn: Connection, rows: list[tuple[Any, ...]], exts: list[tuple[str, str]]) -> None:
    await conn.executemany(f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join('?' * 12)})", rows)
    await conn.executemany("INSERT INTO call_extensions (call_id, extension) VALUES (?, ?)", exts)


async def _copy(raw: Any, table: str, rows: list[tuple[Any, ...]] | list[tuple[str, str]]) -> None:
    # COPY in the store's open transaction, as migrate.py copies a SQLite store into PostgreSQL.
    async with raw.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            await copy.write_row(row)


def _moment(rng: random.Random) -> str:
    return _iso(NOW - timedelta(seconds=rng.randrange(365 * 86400)))


async def _fill_crm(store: Store, rng: random.Random) -> None:
    async with store.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO clients (kind, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [
                (rng.choice(("client", "contact")), f"Клиент {n}", t, t)
                for n in range(20_000)
                for t in [_moment(rng)]
            ],
        )
        await conn.executemany(
            "INSERT INTO deals (pipeline_id, stage, title, value, status, responsible_id, created_at,"
            " closed_at) VALUES (1, 'Новая', 'сделка', ?, ?, ?, ?, ?)",
            [
                (rng.randrange(1000, 100000), s, 1 + rng.randrange(EMPLOYEES), t, t if s != "open" else None)
                for _ in range(20_000)
                for s, t in [(rng.choice(("open", "won", "lost", "archive")), _moment(rng))]
            ],
        )
        await conn.executemany(
            "INSERT INTO comments (author_id, text, created_at) VALUES (?, 'комментарий', ?)",
            [(1 + rng.randrange(EMPLOYEES), _moment(rng)) for _ in range(50_000)],
        )


async def _campaigns(store: Store) -> None:
    for n, line in enumerate(LINES[:5]):
        new_id = await store.db.write(
            "INSERT INTO campaigns (name, starts_on, ends_on, budget, created_at) VALUES (?, ?, ?, ?, ?)",
            (f"Кампания {n}", (NOW.date() - timedelta(days=60 * n + 10)).isoformat(), None, 50000, _iso(NOW)),
        )
        await store.db.write(
            "INSERT INTO campaign_numbers (campaign_id, number) VALUES (?, ?)", (new_id, line.number)
        )


def _show(label: str, samples: list[float]) -> None:
    print(f"  {label:40} {_figures(samples)}", flush=True)


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def _time(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    await call()  # warm the page cache and the statement cache once
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - began)
    return samples


Direct = Callable[[Any], Awaitable[object]]


def _direct(store: Store, period: Period) -> dict[str, Direct]:
    db = store.db

    async def summary(f: Any) -> object:
        return await analytics.summary(db, period, NOW, f)

    async def funnel(f: Any) -> object:
        return await analytics.funnel(db, period)

    async def employees(f: Any) -> object:
        return await analytics.employees(db, period, figures=f)

    async def lines(f: Any) -> object:
        return await analytics.lines(db, period, f)

    async def campaigns(f: Any) -> object:
        return await Campaigns(db).in_period(period, NOW.date(), f.unique_callers)

    return {
        "summary": summary,
        "funnel": funnel,
        "employees": employees,
        "lines": lines,
        "campaigns": campaigns,
    }


async def compare(store: Store, runs: int, scan_runs: int) -> None:
    """Each report before (counting calls) and after (rollups), called directly on the store."""
    month = Period(NOW.date().replace(day=1), NOW.date(), TZ)
    year = Period(NOW.date() - timedelta(days=364), NOW.date(), TZ)
    scan, rolled = ScanFigures(store.db), RollupFigures(store.db)
    print(f"  {'report (direct, no HTTP)':28} {'before: counting calls':38} after: rollups", flush=True)
    for label, period in (("this month", month), ("whole year", year)):
        for name, report in _direct(store, period).items():
            before = _figures(await _time(partial(report, scan), scan_runs))
            after = _figures(await _time(partial(report, rolled), runs))
            print(f"  {name + ' ' + label:28} {before:38} {after}", flush=True)


async def measure(store: Store, runs: int) -> None:
    """Serve the app on loopback and time each endpoint (rollups) and the baselines."""
    app = create_app(HttpSettings())
    routes_analytics.configure(app, LINES, clock=lambda: NOW, tz=TZ)
    routes.setup(app, store)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    year = {"from": (NOW.date() - timedelta(days=364)).isoformat(), "to": NOW.date().isoformat()}
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:

            def getter(path: str, params: dict[str, str] | None = None) -> Callable[[], Awaitable[object]]:
                async def get() -> object:
                    async with http.get(url + path, params=params or {}) as response:
                        assert response.status == 200, await response.text()
                        return await response.read()

                return get

            count = lambda: store.db.scalar("SELECT count(*) FROM calls")  # noqa: E731
            _show("baseline SELECT count(*) FROM calls", await _time(count, runs))
            _show("baseline GET /api/crm/me", await _time(getter("/api/crm/me"), runs))
            for name in ("summary", "funnel", "employees", "lines"):
                path = f"/api/crm/analytics/{name}"
                _show(f"HTTP {name} this month", await _time(getter(path), runs))
                _show(f"HTTP {name} whole year", await _time(getter(path, year), runs))
            _show("HTTP campaigns this month", await _time(getter("/api/crm/campaigns"), runs))
            _show("HTTP campaigns whole year", await _time(getter("/api/crm/campaigns", year), runs))
    finally:
        await runner.cleanup()


async def run(calls: int, runs: int, scan_runs: int, keep: Path | None, rebuild: bool = False) -> None:
    """SQLite: generate, index, build the rollups, measure."""
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or Path(tmp) / "bench.db"
        fresh = not path.exists()
        store = await Store.open(path)
        try:
            if fresh:
                await _generate(store, calls)
            else:
                print(f"  reusing {path}: {await store.db.scalar('SELECT COUNT(*) FROM calls')} calls")
                if rebuild:
                    await _build_rollups(store)
            await compare(store, runs, scan_runs)
            await measure(store, runs)
        finally:
            await store.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS {rss:.0f} MB; database {path.stat().st_size / 2**20:.0f} MB")


async def run_postgres(calls: int, runs: int, scan_runs: int) -> None:
    """PostgreSQL: the same steps on a throwaway server started for the run."""
    from tests import postgres

    cluster = postgres.start()
    try:
        with cluster.fresh_database() as url:
            print(
                f"  PostgreSQL {cluster.bin_dir.parent.name} on 127.0.0.1:{cluster.port} (fsync off)",
                flush=True,
            )
            store = await Store.open(PostgresTarget(url))
            try:
                await _generate(store, calls)
                began = time.perf_counter()
                await store.db.write("ANALYZE")
                print(f"  ANALYZE: {time.perf_counter() - began:.1f} s", flush=True)
                await compare(store, runs, scan_runs)
                await measure(store, runs)
                size = await store.db.scalar("SELECT pg_database_size(current_database())")
            finally:
                await store.close()
    finally:
        cluster.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {rss:.0f} MB (this process); database {int(size or 0) / 2**20:.0f} MB")


async def _generate(store: Store, calls: int) -> None:
    began = time.perf_counter()
    await fill(store, calls)
    print(f"  generated {calls} calls in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    await ensure_schema(store.db, [(line.number, line.name) for line in LINES])
    await _campaigns(store)
    print(f"  analytics schema + indexes on existing data: {time.perf_counter() - began:.1f} s", flush=True)
    await _build_rollups(store)


async def _build_rollups(store: Store) -> None:
    began = time.perf_counter()
    await rollups.rebuild(store.db, TZ)
    counters = await store.db.scalar(
        "SELECT (SELECT COUNT(*) FROM rollup_lines) + (SELECT COUNT(*) FROM rollup_employees)"
        " + (SELECT COUNT(*) FROM rollup_missed)"
    )
    print(f"  rollups built in {time.perf_counter() - began:.1f} s: {counters} counter rows", flush=True)
    began = time.perf_counter()
    await rollups.ensure_scopes(store.db, TZ)
    rows = await store.db.scalar("SELECT COUNT(*) FROM rollup_callers")
    scopes = await store.db.scalar("SELECT COUNT(*) FROM rollup_scopes")
    took = time.perf_counter() - began
    print(f"  unique-caller counters for {scopes} sets of lines in {took:.1f} s: {rows} rows", flush=True)


def main() -> None:
    """`python -m bench.analytics`: 5M calls, 20 timed calls per report (5 when counting calls)."""
    parser = argparse.ArgumentParser(prog="bench.analytics")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--calls", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scan-runs", type=int, default=5, help="timed runs of the slow 'before' reports")
    parser.add_argument("--keep", type=Path, default=None, help="keep (or reuse) the generated database here")
    parser.add_argument("--rebuild", action="store_true", help="recount the rollups of a reused database")
    args, _ = parser.parse_known_args()
    print(f"  backend {args.backend}, {args.calls} calls, load average {_load()}", flush=True)
    if args.backend == "postgresql":
        asyncio.run(run_postgres(args.calls, args.runs, args.scan_runs))
    else:
        asyncio.run(run(args.calls, args.runs, args.scan_runs, args.keep, args.rebuild))
    print(f"  load average at the end {_load()}", flush=True)


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


if __name__ == "__main__":
    main()

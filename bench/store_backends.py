"""The built-in CRM's store on its two back ends in one run: SQLite (a file) and PostgreSQL.

PostgreSQL is Debian's, started for the run in a temporary directory on a loopback port
(tests/postgres.py: fsync off, as in the tests; a production server with fsync on pays its own
commit cost). Both stores get the same `--calls` calls (200 distinct clients' numbers), then:
- insert: `calls.save` of one finished call (its own transaction), per call;
- list: the calls list's first page (50) and a page deep in it, with the total count;
- search: the calls list filtered by a phone fragment, and the search box (names and phones);
- card: a client's card by phone (the screen-pop lookup);
- migrate: the SQLite store copied into an empty PostgreSQL database and verified.
p50 / p95 in milliseconds; figures only, nothing asserts on time.

    python -m bench.store_backends [--calls N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.builtin import search
from adapters.builtin.callstore import CallFilter
from adapters.builtin.db import PostgresTarget, Target
from adapters.builtin.migrate import migrate
from adapters.builtin.store import Store
from connector.calls.model import Call, Direction, Disposition, Leg

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _call(n: int) -> Call:
    start = T0 + timedelta(seconds=37 * n)
    answered = n % 4 != 0
    ext = f"{200 + n % 12}"
    client = f"+7916{n % 200:07d}"
    legs = (Leg(ext, start + timedelta(seconds=5), start + timedelta(seconds=65)),) if answered else ()
    return Call(
        id=f"{1767600000 + n}.{n}",
        linkedids=(f"{1767600000 + n}.{n}",),
        direction=Direction.INBOUND if n % 3 else Direction.OUTBOUND,
        client=client,
        did="74951110001",
        started_at=start,
        answered_at=start + timedelta(seconds=5) if answered else None,
        ended_at=start + timedelta(seconds=65 if answered else 20),
        disposition=Disposition.ANSWERED if answered else Disposition.NO_ANSWER,
        answered_by=ext if answered else None,
        rang=(ext,),
        legs=legs,
    )


async def _timed(runs: int, action: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    spent: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        await action()
        spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    return statistics.median(spent), spent[min(len(spent) - 1, int(len(spent) * 0.95))]


async def _measure(target: Target, calls: int, runs: int) -> dict[str, tuple[float, float]]:
    store = await Store.open(target)
    try:
        for n in range(200):
            await store.clients.create(f"Клиент {n} Ёлкин", [f"+7916{n:07d}"])
        figures: dict[str, tuple[float, float]] = {}
        inserted = iter(range(calls))
        figures["insert call"] = await _timed(calls, lambda: store.calls.save(_call(next(inserted))))
        figures["list page 1"] = await _timed(
            runs, lambda: store.calls.list(CallFilter(), limit=50, offset=0)
        )
        deep = max(0, calls - 100)
        figures["list deep page"] = await _timed(
            runs, lambda: store.calls.list(CallFilter(), limit=50, offset=deep)
        )
        figures["calls by fragment"] = await _timed(
            runs, lambda: store.calls.list(CallFilter(q="916 000 01"), limit=50, offset=0)
        )
        figures["search box"] = await _timed(runs, lambda: search.search(store.db, "ёлкин 12"))
        figures["card by phone"] = await _timed(runs, lambda: store.clients.by_phone("+79160000123"))
        return figures
    finally:
        await store.close()


async def _run(calls: int, runs: int) -> None:
    from tests import postgres

    cluster = postgres.start()
    try:
        with tempfile.TemporaryDirectory() as tmp, cluster.fresh_database() as url:
            sqlite = await _measure(Path(tmp) / "crm.db", calls, runs)
            pg = await _measure(PostgresTarget(url), calls, runs)
            with cluster.fresh_database() as empty:
                began = time.perf_counter()
                report = await migrate(Path(tmp) / "crm.db", PostgresTarget(empty))
                moved = time.perf_counter() - began
    finally:
        cluster.stop()
    rows = sum(t.rows for t in report.tables)
    print(
        f"migrate: {rows} rows in {len(report.tables)} tables copied and verified in {moved:.2f} s"
        f" ({rows / moved:.0f} rows/s, verified: {report.ok})"
    )
    print(f"store on both back ends: {calls} calls, 200 clients, {runs} runs per read (ms)")
    print(f"{'operation':<20} {'SQLite p50':>11} {'p95':>8} {'PostgreSQL p50':>15} {'p95':>8}")
    for name, (p50, p95) in sqlite.items():
        q50, q95 = pg[name]
        print(f"{name:<20} {p50:>11.2f} {p95:>8.2f} {q50:>15.2f} {q95:>8.2f}")


def main(argv: list[str] | None = None) -> None:
    """Parse options and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.store_backends")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50)
    args, _ = parser.parse_known_args(argv)
    asyncio.run(_run(args.calls, args.runs))


if __name__ == "__main__":
    main()

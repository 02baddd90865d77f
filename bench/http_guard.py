"""Sign-in guessing and connection hoarding against the daemon's HTTP defences (loopback only, ~30 s).

    python -m bench.http_guard

Prints: how many password guesses one address or one account gets per hour and per day under the
default back-off (simulated clock, the real `Backoff`); the memory of a full throttle table; and,
against a real server behind `GuardedSite` with the default limits, what 200 idle plus 200
slowloris connections from one address get (admitted, refused with 503, still open after the head
deadline), and the wall time of one argon2id check (the baseline the sign-in cost is set by).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc

from aiohttp import web

from adapters.builtin import passwords
from connector.api.app import create_app
from connector.api.guard import ConnectionGuard, GuardedSite
from connector.api.settings import ConnectionLimits, ThrottleSettings
from connector.api.throttle import Backoff
from connector.config import HttpSettings


def guesses(settings: ThrottleSettings, seconds: float) -> int:
    """Failed attempts one key can make in `seconds` when it always retries as soon as allowed."""
    now = [0.0]
    backoff = Backoff(settings, clock=lambda: now[0])
    count = 0
    while now[0] < seconds:
        backoff.failed("k")
        count += 1
        now[0] += max(backoff.wait("k"), 0.001)
    return count


def table_memory(settings: ThrottleSettings) -> float:
    """KiB held by a throttle table filled to its limit (and then fed 10x more keys)."""
    tracemalloc.start()
    backoff = Backoff(settings)
    for n in range(settings.max_entries * 10):
        backoff.failed(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(backoff) == settings.max_entries
    return size / 1024


async def hoard(limits: ConnectionLimits) -> dict[str, int]:
    """200 idle and 200 slowloris connections from 127.0.0.1 against a guarded server."""
    app = create_app(HttpSettings(limits=limits))
    runner = web.AppRunner(app, keepalive_timeout=limits.idle_timeout)
    await runner.setup()
    guard = ConnectionGuard(limits)
    site = GuardedSite(runner, "127.0.0.1", 0, guard)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]
    writers = []
    try:
        for n in range(400):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            if n % 2:
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # slowloris: the head never ends
            writers.append(writer)
        await asyncio.sleep(0.5)
        admitted_at_once = guard.open
        await asyncio.sleep(limits.head_timeout + 1)
        return {
            "admitted": admitted_at_once,
            "refused_503": guard.refused,
            "open_after_head_deadline": guard.open,
            "cut_for_slow_head": guard.timed_out,
        }
    finally:
        for writer in writers:
            writer.close()
        await runner.cleanup()


async def argon2_ms() -> float:
    """Median wall time of one password check, in milliseconds."""
    stored = await passwords.hash_password("бенчмарк пароль из слов")
    times = []
    for _ in range(9):
        start = time.perf_counter()
        await passwords.verify_password(stored, "не тот пароль вовсе")
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main() -> None:
    """Print the figures."""
    throttle = ThrottleSettings()
    print("sign-in back-off (defaults: 5 free, then 1 s doubling up to 15 min), per address or account:")
    for label, seconds in (("first minute", 60), ("first hour", 3600), ("first day", 86400)):
        print(f"  guesses in the {label:<12} {guesses(throttle, seconds):>6}")
    print(f"  (without back-off, at the measured 1,200/s: {1200 * 3600:,} an hour)")
    print(f"throttle table at its {throttle.max_entries:,}-entry limit: {table_memory(throttle):,.0f} KiB")
    limits = ConnectionLimits(head_timeout=10.0)
    figures = asyncio.run(hoard(limits))
    print(f"connections: 200 idle + 200 slowloris from one address (limit {limits.max_per_address}/address):")
    for key, value in figures.items():
        print(f"  {key:<26} {value:>5}")
    print(f"argon2id check (19 MiB, t=2): {asyncio.run(argon2_ms()):.0f} ms (one worker thread)")


if __name__ == "__main__":
    main()

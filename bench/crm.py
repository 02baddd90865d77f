"""CRM adapter figures: requests per call and calls per second against each CRM's documented limit.

Pushes 200 transferred calls (rung at 201 and 202, answered by 201, transferred to 203; half from
known clients, half from new numbers) through the Bitrix24 and amoCRM adapters into their fakes,
the way the daemon does (live events, then the outbox's jobs), and prints:

- requests per call, by method, counted by the fake itself;
- calls/s the documented limit affords (Bitrix24: leaky bucket 2 requests/s per portal, burst 50;
  amoCRM: 7 requests/s per integration) — requests per call decide it, not CPU;
- calls/s measured with the fake's limit lifted (the adapters' own cost, baseline for the above);
- a short run with the fake enforcing the documented limit and the adapter pacing itself:
  calls/s achieved and how many requests the fake refused (should be 0).

Run: `python -m bench.crm` (or `python -m bench crm`). `BENCH_CRM_LIMITED=0` skips the limited runs.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from adapters.amocrm import Settings as AmoSettings
from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.settings import AuthSettings, EntityRule, LineSettings
from adapters.bitrix24 import Settings as B24Settings
from adapters.bitrix24 import create as create_b24
from connector import logs
from connector.calls.model import (
    Call,
    Direction,
    Disposition,
    Leg,
    LiveEvent,
    LiveKind,
    Transfer,
    TransferKind,
)
from connector.crm import Adapter, AdapterContext, MemoryState
from connector.settings_schema import Secret
from connector.sync.ratelimit import RateLimit, TokenBucket
from tests.fakes.amocrm import FakeAmoCrm
from tests.fakes.bitrix24 import FakeBitrix24

CALLS = 200
LIMITED_CALLS = 12
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DID = "74951110001"
B24_LIMIT, AMO_LIMIT = 2.0, 7.0  # documented sustained requests/s


def number(n: int) -> str:
    return f"+7916{n:07d}"


def transferred_call(n: int, recording: str | None) -> Call:
    """Call `n`: rung at 201 and 202, 201 talks 40 s, then 203 talks 200 s after a blind transfer."""
    start = T0 + timedelta(minutes=n)
    a = start + timedelta(seconds=8)
    b = a + timedelta(seconds=40)
    end = b + timedelta(seconds=200)
    return Call(
        id=f"17000{n:05d}.1",
        linkedids=(f"17000{n:05d}.1",),
        direction=Direction.INBOUND,
        client=number(n),
        did=DID,
        started_at=start,
        answered_at=a,
        ended_at=end,
        disposition=Disposition.ANSWERED,
        rang=("201", "202"),
        answered_by="201",
        legs=(Leg("201", a, b), Leg("203", b, end)),
        transfers=(Transfer(TransferKind.BLIND, "201", "203", b),),
        recordings=(recording,) if recording else (),
    )


def live_events(call: Call) -> list[LiveEvent]:
    at = call.started_at
    base = {"call_id": call.id, "direction": call.direction, "client": call.client, "did": call.did}
    return [
        LiveEvent(LiveKind.RINGING, at=at, exten="201", **base),
        LiveEvent(LiveKind.RINGING, at=at, exten="202", **base),
        LiveEvent(LiveKind.ANSWERED, at=at + timedelta(seconds=8), exten="201", **base),
        LiveEvent(LiveKind.TRANSFERRED, at=at + timedelta(seconds=48), exten="203", from_exten="201", **base),
    ]


async def deliver(adapter: Adapter, call: Call) -> None:
    """What the daemon does for one call: live jobs as they happen, then the call's jobs in order."""
    for event in live_events(call):
        if adapter.wants_live(event):
            await adapter.on_live(event)
    for kind in adapter.jobs_for(call):
        await adapter.perform(kind, call.to_dict())


@dataclasses.dataclass
class Figures:
    name: str
    calls: int
    seconds: float
    by_method: collections.Counter[str]
    refused: int

    @property
    def requests(self) -> int:
        return sum(self.by_method.values())


async def run_calls(
    adapter: Adapter,
    calls: list[Call],
    count: Callable[[], collections.Counter[str]],
    refused: Callable[[], int],
) -> Figures:
    before, refused_before = count(), refused()
    started = time.perf_counter()
    for call in calls:
        await deliver(adapter, call)
    elapsed = time.perf_counter() - started
    return Figures("", len(calls), elapsed, count() - before, refused() - refused_before)


# -- Bitrix24 ---------------------------------------------------------------------------------------


async def bitrix24(session: aiohttp.ClientSession, recording: str, *, limited: bool) -> Figures:
    rate, burst = (B24_LIMIT, 50) if limited else (1e6, 10**9)
    portal = FakeBitrix24(rate=rate, burst=burst)
    await portal.start()
    try:
        portal.add_user(1, "", "Admin")
        for ext, uid in (("201", 11), ("202", 12), ("203", 13)):
            portal.add_user(uid, ext)
        n_calls = LIMITED_CALLS if limited else CALLS
        for n in range(0, n_calls, 2):  # every other caller is a known client
            portal.add_contact(number(n), f"Клиент {n}", assigned=11)
        settings = B24Settings(
            enabled=True,
            portal=portal.url,
            oauth_url=portal.oauth_url,
            client_id=portal.client_id,
            client_secret=Secret(portal.client_secret),
            refresh_token=Secret("refresh-initial"),
            rate_limit=RateLimit(rate, burst if limited else 10**6, 4),
            recording_settle_seconds=0.0,
            timeout=30.0,
        )
        adapter = create_b24(settings, AdapterContext(name="bitrix24", session=session, state=MemoryState()))
        await adapter.start()
        calls = [transferred_call(n, recording) for n in range(n_calls)]

        def count() -> collections.Counter[str]:
            return collections.Counter(portal.requests)

        figures = await run_calls(adapter, calls, count, lambda: portal.limited)
        figures.name = "bitrix24"
        return figures
    finally:
        await portal.stop()


# -- amoCRM -----------------------------------------------------------------------------------------


async def amocrm(session: aiohttp.ClientSession, *, limited: bool) -> Figures:
    fake = await FakeAmoCrm(rate_limit=7 if limited else 10**9).start()
    try:
        n_calls = LIMITED_CALLS if limited else CALLS
        for n in range(0, n_calls, 2):
            fake.add_contact(f"Клиент {n}", [number(n)])
        auth = AuthSettings(
            client_id=fake.client_id,
            client_secret=Secret(fake.client_secret),
            redirect_uri=fake.redirect_uri,
            auth_code=Secret(fake.issue_code()),
        )
        line = LineSettings(did=DID, incoming_unknown=EntityRule(unsorted=True))
        settings = AmoSettings(
            enabled=True,
            base_url=fake.url,
            auth=auth,
            request_timeout=30.0,
            lines=(line,),
            rate_limit=RateLimit(6.0 if limited else 1e6, 1, 4),
        )
        context = AdapterContext(
            name="amocrm", session=session, state=MemoryState(), recording_url=lambda p: f"https://pbx/r/{p}"
        )
        bucket = TokenBucket(settings.rate_limit)
        adapter = AmoCrmAdapter(settings, context, bucket=bucket)
        await adapter.start()
        calls = [transferred_call(n, "rec.mp3") for n in range(n_calls)]

        def count() -> collections.Counter[str]:
            return collections.Counter(
                f"{h.method} {h.path}" for h in fake.hits if h.status != 429 and h.path.startswith("/api/")
            )

        figures = await run_calls(adapter, calls, count, lambda: sum(1 for h in fake.hits if h.status == 429))
        figures.name = "amocrm"
        return figures
    finally:
        await fake.close()


# -- report -----------------------------------------------------------------------------------------


def report(free: Figures, limited: Figures | None, limit: float, unit: str) -> None:
    per_call = free.requests / free.calls
    print(
        f"{free.name}: {free.calls} transferred calls, {free.requests} requests, {per_call:.2f} requests/call"
    )
    for method, n in sorted(free.by_method.items(), key=lambda kv: -kv[1]):
        print(f"    {n / free.calls:5.2f}/call  {method}")
    print(
        f"  documented limit {limit:g} requests/s {unit} → at most {limit / per_call:.2f} calls/s sustained"
    )
    own = f"{free.calls / free.seconds:.1f} calls/s ({free.seconds:.2f} s, the adapter's own cost)"
    print(f"  limit lifted: {own}")
    if limited is not None:
        print(
            f"  limit enforced by the fake, adapter pacing itself: {limited.calls} calls in "
            f"{limited.seconds:.1f} s = {limited.calls / limited.seconds:.2f} calls/s, "
            f"{limited.requests / limited.calls:.2f} requests/call, refused by the fake: {limited.refused}"
        )


async def run() -> None:
    limited = os.environ.get("BENCH_CRM_LIMITED", "1") != "0"
    with tempfile.TemporaryDirectory() as tmp:
        recording = str(Path(tmp) / "rec.mp3")
        await asyncio.to_thread(Path(recording).write_bytes, b"ID3" + b"\0" * 4096)
        await asyncio.to_thread(os.utime, recording, (time.time() - 60, time.time() - 60))
        async with aiohttp.ClientSession() as session:
            b24 = await bitrix24(session, recording, limited=False)
            b24_limited = await bitrix24(session, recording, limited=True) if limited else None
            report(b24, b24_limited, B24_LIMIT, "per portal (burst 50)")
            amo = await amocrm(session, limited=False)
            amo_limited = await amocrm(session, limited=True) if limited else None
            report(amo, amo_limited, AMO_LIMIT, "per integration")


def main() -> None:
    """Entry point for `python -m bench crm`."""
    logs.configure(level="warning", fmt="console")
    asyncio.run(run())


if __name__ == "__main__":
    main()

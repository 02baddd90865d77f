"""SMS mailing figures: pace kept, the sender's own cost, and kills mid-mailing without duplicates.

Through the fake SMSC.ru on loopback (tests/fakes/smsc.py, which answers error 9 to the limits
SMSC.ru documents) and a real SQLite store, a mailing to N clients:

1. at the configured pace (`rate`, real clock): messages/s achieved against the configured rate,
   and how many requests the fake refused (should be 0);
2. baseline in the same run, the pace lifted (a clock that never waits): messages/s the sender
   itself can do (claim, request, record) — the headroom over any rate a provider allows;
3. kills: the sender task cancelled K times at random moments mid-mailing (a request in flight
   or a row claimed), each time restarted on the same database: SMS the fake took per number
   (must be exactly 1 each) and how many rows the restarts had to settle; then the same with
   the mechanism not chosen (a restart sends the rows left in ``sending`` again) for comparison.

Run: `python -m bench sms` (`BENCH_SMS_N`, `BENCH_SMS_RATE`, `BENCH_SMS_KILLS` change the sizes).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import tempfile
import time
from pathlib import Path

import aiohttp

from adapters.builtin.sms_sender import SmsSender
from adapters.builtin.sms_settings import SmsSettings
from adapters.builtin.sms_smsc import SmscProvider
from adapters.builtin.store import Store
from connector import logs
from connector.settings_schema import Secret
from tests.fakes.smsc import FakeSmsc


class _NoWait:
    """A clock whose sleeps return at once (the pace lifted)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def _mailing(store: Store, n: int, offset: int) -> int:
    recipients = []
    for i in range(n):
        phone = f"+7916{offset + i:07d}"
        recipients.append((await store.clients.create(f"Клиент {i}", [phone]), phone))
    row = await store.sms.create_mailing(
        {
            "name": "bench",
            "text": "Скидка 30% на всё до пятницы!",
            "sender": "Shop",
            "scheduled_at": "2000-01-01T00:00:00Z",
            "audience": {},
            "segments": 1,
            "estimate": None,
            "author_id": None,
        },
        recipients,
    )
    return int(row["id"])


def _settings(fake: FakeSmsc, rate: float) -> SmsSettings:
    return SmsSettings(
        enabled=True,
        base_url=fake.url,
        login=fake.login,
        password=Secret(fake.password),
        sender="Shop",
        rate=rate,
    )


async def _drain(sender: SmsSender) -> None:
    while await sender.step():
        pass


async def _paced(store: Store, fake: FakeSmsc, session: aiohttp.ClientSession, n: int, rate: float) -> None:
    await _mailing(store, n, 0)
    sender = SmsSender(store.sms, SmscProvider(session, _settings(fake, rate)), _settings(fake, rate))
    started = time.perf_counter()
    await _drain(sender)
    took = time.perf_counter() - started
    print(
        f"paced:    {len(fake.sends)} SMS in {took:.2f} s = {len(fake.sends) / took:.2f}/s"
        f" (configured {rate}/s); refused by the fake: {len(fake.refusals)}"
    )


async def _unpaced(store: Store, fake: FakeSmsc, session: aiohttp.ClientSession, n: int) -> None:
    before = len(fake.sends)
    await _mailing(store, n, 1_000_000)
    clock = _NoWait()
    settings = _settings(fake, 50.0)
    sender = SmsSender(store.sms, SmscProvider(session, settings), settings, clock=clock, sleep=clock.sleep)
    started = time.perf_counter()
    await _drain(sender)
    took = time.perf_counter() - started
    done = len(fake.sends) - before
    print(
        f"baseline: {done} SMS in {took:.2f} s = {done / took:.0f}/s with the pace lifted (sender's own cost)"
    )


class _Naive(SmsSender):
    """The mechanism not chosen: rows left in sending are simply sent again after a restart."""

    async def recover(self) -> int:
        rows = await self.sms.in_flight(10_000)
        for row in rows:
            await self.sms.requeue(row["id"], "")
        return len(rows)


async def _kills(
    path: Path, session: aiohttp.ClientSession, n: int, kills: int, kind: type[SmsSender]
) -> None:
    # A kill is a cancelled sender and a closed connection (SQLite rolls back what was open),
    # then a new store on the same file a minute later: what a restarted daemon finds. (Within
    # a minute SMSC.ru itself refuses a byte-identical send, which would hide a resend.)
    clock = _NoWait()
    fake = FakeSmsc(balance=1e9, clock=clock)
    await fake.start()
    store = await Store.open(path)
    await _mailing(store, n, 2_000_000)
    settings = _settings(fake, 50.0)
    settled = 0
    rng = random.Random(7)
    for _ in range(kills):
        sender = kind(store.sms, SmscProvider(session, settings), settings, clock=clock, sleep=clock.sleep)
        settled += await sender.recover()
        task = asyncio.create_task(_drain(sender))
        await asyncio.sleep(rng.uniform(0.005, 0.05))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        clock.now += 61
        store = await Store.open(path)
    final = kind(store.sms, SmscProvider(session, settings), settings, clock=clock, sleep=clock.sleep)
    settled += await final.recover()
    await _drain(final)
    await store.close()
    await fake.stop()
    per_number = collections.Counter(m.phone for m in fake.sends)
    twice = sum(1 for c in per_number.values() if c > 1)
    label = "resend" if kind is _Naive else "ask by id"
    print(
        f"kills ({label}): {kills} kills mid-mailing, {settled} rows settled by restarts;"
        f" {len(per_number)}/{n} numbers got an SMS, {twice} got two or more"
    )


async def _run() -> None:
    n = int(os.environ.get("BENCH_SMS_N", "300"))
    rate = float(os.environ.get("BENCH_SMS_RATE", "20"))
    kills = int(os.environ.get("BENCH_SMS_KILLS", "20"))
    fake = FakeSmsc(balance=1e9)
    await fake.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "crm.db")
            try:
                async with aiohttp.ClientSession() as session:
                    await _paced(store, fake, session, min(n, int(rate * 5)), rate)
                    await _unpaced(store, fake, session, n)
            finally:
                await store.close()
            async with aiohttp.ClientSession() as session:
                await _kills(Path(tmp) / "kills.db", session, n, kills, SmsSender)
                await _kills(Path(tmp) / "naive.db", session, n, kills, _Naive)
    finally:
        await fake.stop()


def main() -> None:
    """Print the figures."""
    logs.configure(level="warning", fmt="console")
    asyncio.run(_run())


if __name__ == "__main__":
    main()

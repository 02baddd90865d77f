"""Chaos against the real thing: the daemon (`crm-connector run`) on the harness's real Asterisk 22,
delivering to the fake webhook CRM, while it is hurt on purpose.

Faults, each with real inbound SIP calls going on (every call from its own client number, so each
can be followed from the world's side to the daemon's journal and to the CRM):
- Asterisk killed (-9) and started again in the middle of a call;
- AMI frozen half-open (a relay swallows every byte, sockets open): the daemon's ping notices;
- the CRM down for 10 minutes, in compressed time: the outbox's backoff, park and retry times
  are divided by 60 and the CRM is down for 10 s, with calls made meanwhile;
- kill -9 ×N and SIGTERM ×N of the daemon, each while a call is live and deliveries are due.
Prints per fault: calls made, recorded (journal), delivered (CRM), duplicated, lost. Goal: 0 lost,
0 duplicated. Bounded: `--rounds` (default 20) and an overall time limit.

    python -m bench.chaos [--rounds N] [--limit SECONDS] [--faults kill,term]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector import logs

LINE = "74951110001"
SECRET = "chaos-webhook-secret-0123456789"
# Outbox times divided by 60: 10 minutes of CRM outage become 10 s.
COMPRESSED = """outbox:
  backoff_min: 0.05
  backoff_max: 15
  park_seconds: 5
  poll_seconds: 0.2
  max_attempts: 40
  shutdown_grace: 2
"""


@dataclass
class Tally:
    """The calls of one fault: each from its own client number."""

    prefix: int
    made: list[str] = field(default_factory=list)

    def client(self) -> str:
        """A fresh client number for the next call."""
        number = f"749577{self.prefix}{len(self.made):04d}"
        self.made.append(number)
        return number


@dataclass
class World:
    """The harness, the relay to its AMI, the CRM fake and the daemon's config."""

    harness: Any
    relay: Any
    crm: Any
    tmp: Path
    port: int
    config: Path

    def secret(self) -> str:
        return str(self.harness.pbx_instance.values["AMI_SECRET"])


@contextlib.asynccontextmanager
async def world(tmp: Path) -> AsyncIterator[World]:
    """Asterisk, a relay in front of its AMI port, the webhook CRM, a config for the daemon."""
    from tests.fakes.webhook_server import WebhookServer
    from tests.pbx.harness import AMI_USER, Harness
    from tests.pbx.test_ami_service import NUMBERING, Relay
    from tests.unit.service.daemon import free_port, write_config

    harness = await Harness.start()
    try:
        await harness.phone("201", "answer:1:0")
        await harness.route(LINE, "201")
        harness.begin()
        crm = WebhookServer(SECRET)
        await crm.start()
        async with Relay(harness.pbx_instance.ami_port) as relay:
            port = free_port()
            hook = f"  webhook:\n    url: {crm.url}\n    secret: {SECRET}\n    recordings: false\n"
            extra = hook + NUMBERING  # the webhook goes under adapters:, the lines are top level
            config = write_config(tmp, ami_port=relay.port, username=AMI_USER, http_port=port, extra=extra)
            with config.open("a", encoding="utf-8") as file:
                file.write(COMPRESSED)
            yield World(harness, relay, crm, tmp, port, config)
        await crm.stop()
    finally:
        await harness.stop()


async def call(w: World, tally: Tally, talk: float) -> Any:
    """A client calls the line; 201 answers and they talk `talk` s (the world hangs up)."""
    return await w.harness.inbound(LINE, tally.client(), "Хаос", talk=talk)


async def followed(w: World, count: int = 1) -> None:
    """Until the daemon follows `count` calls in progress."""
    from tests.unit.service.daemon import wait_report

    async with asyncio.timeout(30):
        await wait_report(w.port, "calls_in_progress", count)


async def settle(w: World) -> None:
    """Until Asterisk is idle and the daemon has no call in progress."""
    from tests.unit.service.daemon import wait_report

    await w.harness.wait_idle(idle_timeout=60)
    async with asyncio.timeout(60):
        await wait_report(w.port, "calls_in_progress", 0)


async def fault_asterisk(w: World, tally: Tally, rounds: int) -> None:
    """Asterisk killed and started again mid-call, `rounds` // 5 + 1 times."""
    from tests.pbx.test_ami_service import restart_asterisk
    from tests.unit.service.daemon import daemon, wait_report

    async with daemon(w.tmp, w.config, "asterisk", w.secret()) as d:
        for n in range(max(1, rounds // 5)):
            await call(w, tally, talk=0)
            await followed(w)
            await restart_asterisk(w.harness, crash=True)
            await wait_report(w.port, "reconnects", n + 1, section="ami")
            await settle(w)
        await call(w, tally, talk=1)
        await settle(w)
        await d.stop()


async def fault_frozen(w: World, tally: Tally, rounds: int) -> None:
    """AMI frozen half-open in the middle of a call, `rounds` // 5 + 1 times."""
    from tests.unit.service.daemon import daemon, wait_report

    async with daemon(w.tmp, w.config, "frozen", w.secret()) as d:
        for n in range(max(1, rounds // 5)):
            await call(w, tally, talk=3)
            await followed(w)
            w.relay.freeze()
            await wait_report(w.port, "reconnects", n + 1, section="ami")
            await settle(w)
        await d.stop()


async def fault_crm(w: World, tally: Tally, rounds: int) -> None:
    """The CRM down for "10 minutes" (10 s compressed) while calls are made and end."""
    from tests.unit.service.daemon import daemon

    async with daemon(w.tmp, w.config, "crm", w.secret()) as d:
        await w.crm.stop()
        down = time.monotonic()
        for _ in range(max(3, rounds // 4)):
            await call(w, tally, talk=0.5)
            await settle(w)
        await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - down)))
        await w.crm.start()
        await d.stop()


async def fault_stops(w: World, tally: Tally, rounds: int, how: str) -> None:
    """`rounds` times: a call is live, the daemon is stopped (`how`) as soon as it follows the
    call, started again. Odd rounds: the call ends by itself; even rounds: the client hangs up
    while the daemon is down (only the daemon's journal can tell that call was made)."""
    from tests.unit.service.daemon import daemon

    for n in range(rounds):
        async with daemon(w.tmp, w.config, f"{how}{n}", w.secret()) as d:
            await wait_status_ok(w)
            # The last round's call, restored from the journal, must be closed (or ended) first:
            # else "follows one call" below is met by it, and the daemon is stopped before it
            # has seen the new call at all (the first runs' "lost" were partly this).
            await settle(w)
            world_call = await call(w, tally, talk=1.5 if n % 2 else 0)
            await followed(w)  # no wait for a checkpoint: the journal's tail must have it
            if how == "kill":
                d.process.send_signal(signal.SIGKILL)
                await d.process.wait()
            else:
                await d.stop()
            if n % 2 == 0:  # the client hangs up while the daemon is down
                await w.harness.hangup_world(world_call.uniqueid)
    async with daemon(w.tmp, w.config, f"{how}-last", w.secret()) as last:
        await wait_status_ok(w)
        await settle(w)
        await last.stop()


async def wait_status_ok(w: World) -> None:
    """Until /healthz says the daemon follows AMI (the CRM may still be catching up)."""
    from tests.unit.service.daemon import wait_report

    async with asyncio.timeout(60):
        await wait_report(w.port, "connected", True, section="ami")


async def drain(w: World) -> None:
    """A daemon runs until the CRM has every call recorded in the journal (bounded)."""
    from tests.unit.service.daemon import daemon, journal

    async with daemon(w.tmp, w.config, "drain", w.secret()) as d:
        expected = {c["id"] for c in await journal(w.tmp)}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(120):
                while True:  # polled: delivery happens in the daemon's process
                    if not expected - delivered_ids(w):
                        break
                    await asyncio.sleep(0.2)
        await d.stop()


def delivered_ids(w: World) -> set[str]:
    return {doc["call"]["id"] for doc in w.crm.effects.values() if doc.get("event") == "call.finished"}


async def report(w: World, tallies: dict[str, Tally]) -> None:
    """Per fault: made, recorded, delivered, duplicated, lost."""
    from tests.unit.service.daemon import journal

    calls = await journal(w.tmp)
    by_client: Counter[str] = Counter(c["client"].lstrip("+") for c in calls)
    delivered = Counter(
        doc["call"]["client"].lstrip("+")
        for doc in w.crm.effects.values()
        if doc.get("event") == "call.finished"
    )
    repeats = sum(count - 1 for count in w.crm.posts.values() if count > 1)
    print(f"{'fault':<10} {'made':>5} {'recorded':>9} {'delivered':>10} {'duplicated':>11} {'lost':>5}")
    for name, tally in tallies.items():
        made = tally.made
        recorded = sum(1 for m in made if by_client[m])
        got = sum(1 for m in made if delivered[m])
        doubled = sum(1 for m in made if by_client[m] > 1 or delivered[m] > 1)
        missing = [m for m in made if not by_client[m]]
        lost = len(missing)
        print(f"{name:<10} {len(made):>5} {recorded:>9} {got:>10} {doubled:>11} {lost:>5}")
        if missing:
            print(f"           lost: {', '.join(f'round {made.index(m)} ({m})' for m in missing)}")
    print(f"CRM: {len(w.crm.effects)} documents applied, {repeats} repeated deliveries answered as repeats "
          f"(idempotency key), {len(w.crm.conflicts)} conflicts")  # fmt: skip


async def run(rounds: int, limit: float, only: list[str]) -> None:
    """Every fault (or those in `only`) in turn, within `limit` seconds."""
    tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
    tallies: dict[str, Tally] = {}
    steps = {
        "asterisk": lambda w, t: fault_asterisk(w, t, rounds),
        "frozen": lambda w, t: fault_frozen(w, t, rounds),
        "crm": lambda w, t: fault_crm(w, t, rounds),
        "kill": lambda w, t: fault_stops(w, t, rounds, "kill"),
        "term": lambda w, t: fault_stops(w, t, rounds, "term"),
    }
    steps = {name: step for name, step in steps.items() if not only or name in only}
    try:
        async with world(tmp) as w:
            started = time.monotonic()
            for name, step in steps.items():
                tallies[name] = Tally(len(tallies))
                remaining = limit - (time.monotonic() - started)
                try:
                    async with asyncio.timeout(max(remaining, 1.0)):
                        await step(w, tallies[name])
                except TimeoutError:
                    print(f"{name}: stopped by a timeout; the daemon's last log lines:", flush=True)
                    _log_tail(tmp)
                    break
                print(f"{name}: done in {time.monotonic() - started:.0f} s", flush=True)
            await drain(w)
            await report(w, tallies)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _log_tail(tmp: Path) -> None:
    logs_ = sorted(tmp.glob("*.log"), key=lambda p: p.stat().st_mtime)
    if logs_:
        for line in logs_[-1].read_text(encoding="utf-8", errors="replace").splitlines()[-8:]:
            print("    " + line[:300])


def main() -> None:
    """`python -m bench.chaos`."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--rounds", type=int, default=20, help="kill -9 and SIGTERM rounds (default 20)")
    parser.add_argument("--limit", type=float, default=1200.0, help="seconds for all faults (default 1200)")
    parser.add_argument("--faults", default="", help="comma-separated subset: asterisk,frozen,crm,kill,term")
    args, _ = parser.parse_known_args()
    logs.configure("error", "console", [])
    # the relay's own reconnects while Asterisk is down are expected: not worth a traceback
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    asyncio.run(run(args.rounds, args.limit, [f for f in args.faults.split(",") if f]))


if __name__ == "__main__":
    main()

"""Pre-dial interception: the delay the FastAGI lookup adds to an incoming call, p50/p99.

Asterisk's side of AGI is played over loopback TCP (the environment, then an answer to each
command, as `AGI(agi://...)` does), against the daemon's `AgiServer`:

- baseline: interception on, but the line is disabled (the AGI exchange with no lookup);
- cached: the caller's answer is in the cache;
- uncached: every call a new number, looked up over HTTP in a loopback "CRM" (aiohttp server)
  answering at once, then one answering in 300 ms (a distant cloud CRM);
- over the timeout: a CRM slower than `lookup_timeout` (1.5 s): the caller waits that long only.

Then, when the PBX harness of tests/pbx can run here (root, its cached Asterisk root), the same
on the real Asterisk 22: calls placed on a line routed through config/asterisk/crm-interception.conf,
the delay read from Asterisk's own event timestamps, from the AGI step starting to the dialplan
going on (connect, AGI environment, lookup, four SET VARIABLEs, DEVICE_STATE).

Run: `python -m bench.interception` (or `python -m bench interception`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from connector import logs
from connector.ami.agi import AgiServer
from connector.crm import Contact
from connector.routing import Interception, InterceptionSettings, ResponsibleFinder

LINE = "74951110001"
SNIPPET = Path(__file__).resolve().parents[1] / "config" / "asterisk" / "crm-interception.conf"
_numbers = itertools.count(1)


class HttpCrm:
    """A CRM reached over HTTP on loopback; `delay` seconds per answer."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.url = ""
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"id": 1, "name": "Клиент", "responsible": "203"})

    async def lookup(self, phone: str) -> Contact | None:
        assert self.session is not None
        async with self.session.get(self.url, params={"phone": phone}) as response:
            data = await response.json()
        return Contact(str(data["id"]), data["name"], (phone,), responsible_extension=data["responsible"])


@asynccontextmanager
async def crm(delay: float) -> AsyncIterator[HttpCrm]:
    """The CRM's HTTP server and a client session to it."""
    backend = HttpCrm(delay)
    app = web.Application()
    app.router.add_get("/contacts", backend.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    backend.url = f"http://127.0.0.1:{runner.addresses[0][1]}/contacts"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        backend.session = session
        try:
            yield backend
        finally:
            await runner.cleanup()


async def agi_call(port: int, caller: str, did: str = LINE) -> float:
    """One AGI request as Asterisk makes it; seconds until the server closed the connection."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    env = f"agi_network: yes\nagi_network_script: interception\nagi_callerid: {caller}\nagi_arg_1: {did}\n\n"
    writer.write(env.encode())
    while line := await reader.readline():
        answer = b"200 result=1 (NOT_INUSE)\n" if line.startswith(b"GET") else b"200 result=1\n"
        writer.write(answer)
    writer.close()
    return time.perf_counter() - started


async def measure(backend: HttpCrm, runs: int, *, cached: bool, disabled: bool = False) -> list[float]:
    """`runs` sequential calls through a fresh server; each call's delay in seconds."""
    settings = InterceptionSettings(enabled=True, disabled_dids=(LINE,) if disabled else ())
    finder = ResponsibleFinder([("crm", backend.lookup)], settings)
    server = AgiServer(Interception(settings, finder), "127.0.0.1", 0)
    await server.start()
    try:
        if cached:
            await agi_call(server.port, "+79160000000")
        delays = []
        for _ in range(runs):
            caller = "+79160000000" if cached else f"+7916{next(_numbers):07d}"
            delays.append(await agi_call(server.port, caller))
        return delays
    finally:
        await server.stop()
        await finder.aclose()


def report(name: str, delays: list[float]) -> None:
    """Print p50/p99/max in milliseconds."""
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<42} n={len(ordered):<5} p50={statistics.median(ordered) * 1000:8.2f} ms"
        f"  p99={p99 * 1000:8.2f} ms  max={ordered[-1] * 1000:8.2f} ms",
        flush=True,
    )


async def run() -> None:
    """All the cases, one after the other."""
    async with crm(0.0) as fast:
        report("baseline (line disabled, no lookup)", await measure(fast, 2000, cached=True, disabled=True))
        report("cached answer", await measure(fast, 2000, cached=True))
        report("uncached, loopback CRM answering at once", await measure(fast, 500, cached=False))
    async with crm(0.3) as distant:
        report("uncached, CRM answering in 300 ms", await measure(distant, 20, cached=False))
    async with crm(5.0) as stuck:
        report("uncached, CRM slower than lookup_timeout 1.5 s", await measure(stuck, 5, cached=False))


async def live(backend: HttpCrm, runs: int) -> None:
    """Cached and uncached pre-dial delay on the harness's real Asterisk (if it can run here)."""
    try:
        from tests.pbx.harness import Harness, build_root
    except ImportError:
        print("real Asterisk: skipped (tests/pbx not importable)")
        return
    if os.geteuid() != 0:
        print("real Asterisk: skipped (the harness needs root)")
        return
    h = await Harness.start(await asyncio.to_thread(build_root))
    settings = InterceptionSettings(enabled=True)
    finder = ResponsibleFinder([("crm", backend.lookup)], settings)
    server = AgiServer(Interception(settings, finder), "127.0.0.1", 0)
    await server.start()
    try:
        await asyncio.to_thread(_install, h)
        await h.pbx.action("Setvar", Variable="CRM_AGI", Value=f"127.0.0.1:{server.port}")
        await h.route(LIVE_LINE, "crm-bench")
        await h.phone("201", "busy")
        report("real Asterisk, cached answer", [await _live_call(h, "+79160000000") for _ in range(runs)])
        numbers = [f"+7917{next(_numbers):07d}" for _ in range(runs)]
        report("real Asterisk, uncached (loopback CRM)", [await _live_call(h, n) for n in numbers])
    finally:
        await server.stop()
        await finder.aclose()
        await h.stop()


LIVE_LINE = "74951110001"
SNIPPET = Path(__file__).resolve().parents[1] / "config" / "asterisk" / "crm-interception.conf"
_ROUTE = """
[internal]
exten => crm-bench,1,Gosub(crm-interception,s,1(${FROM_DID}))
 same => n,Goto(internal,201,1)
"""


def _install(h: Any) -> None:
    etc = h.pbx_instance.outer_dir / "etc"
    (etc / "crm-interception.conf").write_text(SNIPPET.read_text(encoding="utf-8"), encoding="utf-8")
    (etc / "crm-interception-bench.conf").write_text(_ROUTE, encoding="utf-8")
    main = etc / "extensions.conf"
    main.write_text(
        main.read_text(encoding="utf-8")
        + "\n#include crm-interception.conf\n#include crm-interception-bench.conf\n",
        encoding="utf-8",
    )
    h.pbx_instance.cli("dialplan reload")


async def _live_call(h: Any, caller: str) -> float:
    """One call (phone 201 busy: it ends at once); seconds the AGI step took in Asterisk's clock."""
    h.begin()
    await h.inbound(LIVE_LINE, caller)
    index, start = await h.wait_pbx(Event="Newexten", Application="AGI")
    _, after = await h.wait_pbx(Event="Newexten", Application="GotoIf", since=index + 1)
    await h.wait_idle(quiet=0.1)
    return float(after["Timestamp"]) - float(start["Timestamp"])


def main() -> None:
    """Print the figures."""
    logs.configure("error", "console")  # the slow-CRM case warns on every call
    asyncio.run(run())

    async def real() -> None:
        async with crm(0.0) as fast:
            await live(fast, 30)

    asyncio.run(real())


if __name__ == "__main__":
    main()

"""The CRM workspace in a real browser: ring → call card on screen, search, calls list, deals board.

1. Ring → card: a recorded real call's AMI events go through the real tracker; the event that
   makes it ring is timed from the moment it enters `tracker.feed` until the call panel (the
   caller's name, company, calls, deals) is in the DOM of a signed-in Chromium page, through the
   live hub, the enricher's database lookups and the WebSocket (Chromium stamps it with a
   MutationObserver; same machine, same clock). Baseline in the same run: a bare fetch of
   /api/crm/me from that page.
2. Search over `--clients` clients and `--calls` calls: GET /api/crm/search (names, phone
   fragments typed any way, e-mail) and the calls list filtered by a phone fragment, p50 / p95.
3. First render with `--deals` deals: the calls list and the deals board from a hash change to
   the table / board in the DOM, p50 / p95; their API answers alone beside them.

Figures only: nothing here asserts on time.

    python -m bench.workspace [--rings N] [--clients N] [--calls N] [--deals N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.builtin.store import Store
from connector.calls.capture import read_capture
from connector.calls.model import LiveEvent, LiveKind
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "tests/fixtures/ami/inbound_direct_answered.json"
CHROMIUM = "/usr/bin/chromium"
CALLER = "+79161234567"  # the capture's caller; made a known client with company, deals, comments


def figures(samples: list[float]) -> str:
    """p50 / p95 / p99 / max of `samples` in ms."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return (
        f"n={len(ordered)} p50={pick(0.5):.1f} ms p95={pick(0.95):.1f} ms p99={pick(0.99):.1f} ms"
        f" max={ordered[-1]:.1f} ms"
    )


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    """Wall time of `runs` sequential awaits of `call`, in ms (one warm-up first)."""
    await call()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


# -- data --------------------------------------------------------------------------------------


async def fill(store: Store, clients: int, calls: int, deals: int, rng: random.Random) -> None:
    """Clients with phones (some with e-mails and companies), calls on them, and deals."""
    stamp = "2026-11-01T09:00:00Z"
    async with store.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO companies (name, inn, created_at) VALUES (?, ?, ?)",
            [(f"ООО «Компания {n}»", f"77{n:08d}", stamp) for n in range(clients // 20)],
        )
        await conn.executemany(
            "INSERT INTO clients (kind, name, email, company_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("client", f"Клиент {n} Фамилия{n % 997}", f"c{n}@example.ru" if n % 3 else "",
                 (n % (clients // 20)) + 1 if n % 2 else None, stamp, stamp)
                for n in range(clients)
            ],
        )  # fmt: skip
        await conn.executemany(
            "INSERT INTO phones (phone, client_id) VALUES (?, ?)",
            [(f"+79{100000000 + n * 7919 % 899999999:09d}", n + 1) for n in range(clients)],
        )
    base = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    batch: list[tuple[Any, ...]] = []
    exts: list[tuple[str, str]] = []
    for n in range(calls):
        client = rng.randrange(clients) + 1
        phone = f"+79{100000000 + (client - 1) * 7919 % 899999999:09d}"
        began = (base - timedelta(seconds=n * 30)).isoformat().replace("+00:00", "Z")
        ext = str(200 + n % 4)
        batch.append((f"b{n}", "inbound", phone, client, "74951110001", began, began, began, "answered", 60,
                      ext,
                      json.dumps({"rang": [ext], "legs": []})))  # fmt: skip
        exts.append((f"b{n}", ext))
        if len(batch) >= 50_000:
            await _write_calls(store, batch, exts)
            batch, exts = [], []
    if batch:
        await _write_calls(store, batch, exts)
    pipeline = (await store.deals.pipelines())[0]
    stages = pipeline["stages"]
    async with store.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO deals (client_id, pipeline_id, stage, title, value, status, responsible_id,"
            " created_at)"
            " VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
            [(rng.randrange(clients) + 1, pipeline["id"], stages[n % len(stages)], f"Сделка {n}",
              1000 + n % 90000,
              1 + n % 4, stamp) for n in range(deals)],
        )  # fmt: skip
    await store.db.write("ANALYZE")


async def _write_calls(store: Store, rows: list[tuple[Any, ...]], exts: list[tuple[str, str]]) -> None:
    async with store.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO calls (id, direction, phone, client_id, did, started_at, answered_at, ended_at,"
            " disposition, talk_seconds, employee, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        await conn.executemany("INSERT INTO call_extensions (call_id, extension) VALUES (?, ?)", exts)


# -- browser -----------------------------------------------------------------------------------

OBSERVER = """
window.__pops = [];
window.__seen = {};
new MutationObserver((changes) => {
  const now = performance.timeOrigin + performance.now();
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.id === "callpanel" && node.dataset.kind === "ringing") window.__pops.push(now);
    if (node.nodeType === 1) for (const id of ["calls", "board"]) {
      if (window.__seen[id]) continue;
      if (node.dataset?.testid === id || node.querySelector?.(`[data-testid=${id}]`)) window.__seen[id] = now;
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


async def sign_in(page: Any, url: str) -> None:
    """Sign in as 201 (the extension the capture rings) through the form."""
    from tests.unit.builtin.helpers import LOGINS

    login, password = LOGINS["201"]
    await page.goto(f"{url}/crm/")
    await page.get_by_test_id("login").fill(login)
    await page.get_by_test_id("password").fill(password)
    await page.get_by_test_id("sign-in").click()
    await page.wait_for_selector("[data-testid=live][data-state=on]", timeout=30000)


def ring_events() -> tuple[list[Any], Any]:
    """The capture's events up to and including the one that rings, and the tracker rules."""
    capture = read_capture(CAPTURE)
    rules = rules_from_numbering(capture.numbering)
    tracker = CallTracker(rules)
    for index, event in enumerate(capture.events):
        if any(isinstance(e, LiveEvent) and e.kind is LiveKind.RINGING for e in tracker.feed(event)):
            return list(capture.events[: index + 1]), rules
    raise SystemExit(f"{CAPTURE} never rings")


async def until(page: Any, condition: str, limit: float = 60.0) -> None:
    """Poll `condition` in the page (the CSP forbids the eval that wait_for_function needs)."""
    deadline = time.monotonic() + limit
    while not await page.evaluate(condition):
        if time.monotonic() > deadline:
            state = await page.evaluate(
                "[!!document.getElementById('callpanel'), location.href, window.__pops]"
            )
            raise TimeoutError(f"{condition}: {state}")
        await asyncio.sleep(0.005)


async def rings(page: Any, hub: Any, count: int) -> list[float]:
    """Ring → panel in the DOM, `count` times (each with a fresh tracker, as for a new call)."""
    events, rules = ring_events()
    out = []
    for n in range(count):
        tracker = CallTracker(rules)
        for event in events[:-1]:
            for item in tracker.feed(event):
                if isinstance(item, LiveEvent):
                    hub.publish(item)
        started = time.time() * 1000
        for item in tracker.feed(events[-1]):
            if isinstance(item, LiveEvent):
                hub.publish(item)
        await until(page, f"window.__pops.length > {n}")
        out.append(await page.evaluate(f"window.__pops[{n}]") - started)
    return out


async def first_render(page: Any, hash_: str, testid: str, runs: int) -> list[float]:
    """From a hash change to the page's table or board in the DOM, `runs` times (one warm-up)."""
    out = []
    for n in range(runs + 1):
        await page.evaluate("location.hash = '#/tasks'")
        await page.wait_for_selector("[data-testid=task-groups] >> nth=0", timeout=30000)
        await page.evaluate(f"delete window.__seen['{testid}']")
        started = await page.evaluate(
            "(() => { const t = performance.timeOrigin + performance.now();"
            f" location.hash = '{hash_}'; return t; }})()"
        )
        await until(page, f"window.__seen['{testid}'] !== undefined")
        if n:
            out.append(await page.evaluate(f"window.__seen['{testid}']") - started)
    return out


# -- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    from tests.unit.builtin.helpers import crm_server

    rng = random.Random(18)
    with tempfile.TemporaryDirectory() as tmp:
        async with crm_server(Path(tmp)) as crm:
            crm.hub.maxsize = 1000
            store = crm.store
            mark = await store.employees.by_extension("201")
            assert mark is not None
            await store.employees.set_screen_pop(mark["id"], "never")
            company = await store.companies.create("ООО «Ромашка»", "7701234567")
            client = await store.clients.create("Иван Петров", [CALLER], company_id=company)
            pipeline = (await store.deals.pipelines())[0]
            for n in range(3):
                await store.deals.create(
                    {"title": f"Поставка {n}", "pipeline_id": pipeline["id"], "client_id": client}
                )
                await store.notes.add_comment(client, f"Комментарий {n}", mark["id"])
            started = time.perf_counter()
            await fill(store, args.clients, args.calls, args.deals, rng)
            print(f"data: {args.clients} clients, {args.calls} calls, {args.deals} deals"
                  f" written in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                page = await browser.new_page(locale="ru-RU", viewport={"width": 1400, "height": 900})
                await page.add_init_script(OBSERVER)
                await sign_in(page, crm.url)
                baseline = []
                for _ in range(50):
                    baseline.append(await page.evaluate(
                        "(async () => { const t = performance.now(); await fetch('/api/crm/me');"
                        " return performance.now() - t; })()"
                    ))  # fmt: skip
                print(f"baseline fetch /api/crm/me from the page: {figures(baseline)}", flush=True)
                print(
                    f"ring -> call panel in the DOM: {figures(await rings(page, crm.hub, args.rings))}",
                    flush=True,
                )
                await measure_http(crm, args.runs)
                for hash_, testid in (("#/calls", "calls"), ("#/deals", "board")):
                    samples = await first_render(page, hash_, testid, args.runs)
                    print(f"first render {hash_} ({testid} in the DOM): {figures(samples)}", flush=True)
                await browser.close()


async def measure_http(crm: Any, runs: int) -> None:
    """Search and list answers over HTTP (signed-in session), p50 / p95."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await crm.sign_in(http, "200")

        def get(path: str) -> Callable[[], Awaitable[object]]:
            async def call() -> object:
                async with http.get(f"{crm.url}/api/crm{path}") as r:
                    assert r.status == 200, (path, r.status)
                    return await r.read()

            return call

        started = time.perf_counter()
        await get("/search?q=клиент")()
        print(
            f"search index of the imported clients folded on first use: {time.perf_counter() - started:.1f} s"
        )
        for label, path in (
            ("search name", "/search?q=фамилия42"),
            ("search phone 8XXXXXXXXXX", "/search?q=89161234567"),
            ("search phone '+7 916 123-45-67'", "/search?q=%2B7%20916%20123-45-67"),
            ("search phone fragment '916 123'", "/search?q=916%20123"),
            ("search e-mail", "/search?q=c4242@example"),
            ("search INN", "/search?q=7700000042"),
            ("calls list, phone fragment", "/calls?q=916%20123&per_page=25"),
            ("calls list, first page", "/calls?per_page=25"),
            ("calls list, first page as the page asks (spam hidden)", "/calls?per_page=25&page=1&spam=false"),
            ("deals board", "/board"),
        ):
            print(f"{label}: {figures(await timed(get(path), runs))}", flush=True)


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.workspace")
    parser.add_argument("--rings", type=int, default=200)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    asyncio.run(run(parser.parse_args([] if __name__ != "__main__" else None)))


if __name__ == "__main__":
    main()

"""The adversarial probe of issue 25, replayed: each abuse or fault, what was tried, what happened.

Bounded (a few minutes) and loopback only: the real daemon (`crm-connector run` subprocesses)
against the in-test AMI server, real SQLite files, a real worker process for imports. Prints one
block per item with its figures; the goal is 0 lost, 0 phantom, 0 duplicated, no 5xx.

    python -m bench.abuse [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from connector import logs

ROOT = Path(__file__).resolve().parent.parent
WIDGET_TOKEN = "amocrm-widget-token-6f1c2b7e9d-bench"
DID = "74951110001"


def say(item: str, tried: str, happened: str) -> None:
    """One line of the report."""
    print(f"[{item}] tried: {tried}\n      happened: {happened}", flush=True)


# -- 1. click-to-call flood through one widget token -----------------------------------------------

HTTP_EXTRA = "  public_url: https://pbx.example.ru\n  link_secret: link-secret-0123456789abcdef0123\n"
WIDGET_EXTRA = """  amocrm:
    enabled: true
    base_url: http://127.0.0.1:9
    auth:
      mode: long_lived
      long_lived_token: amocrm-long-lived-token-not-used-here
    widget:
      enabled: true
      token: {token}
      extensions: ["*"]
"""


async def flood(tmp: Path, count: int) -> None:
    """`count` originates through one widget token, each for another extension, as fast as it goes."""
    from tests.unit.ami.amiserver import AmiServer
    from tests.unit.service.daemon import daemon, free_port, wait_report, write_config

    async with AmiServer() as server:
        port = free_port()
        config = write_config(
            tmp,
            ami_port=server.port,
            username=server.username,
            http_port=port,
            http_extra=HTTP_EXTRA,
            extra=WIDGET_EXTRA.format(token=WIDGET_TOKEN),
        )
        async with daemon(tmp, config, "flood") as d:
            await wait_report(port, "connected", True, section="ami")
            statuses: Counter[int] = Counter()
            headers = {"Authorization": f"Bearer {WIDGET_TOKEN}"}
            started = time.perf_counter()
            async with aiohttp.ClientSession() as http:
                for n in range(count):
                    body = {"extension": str(200 + n % 100), "number": "+79161234567"}
                    url = f"http://127.0.0.1:{port}/amocrm/widget/originate"
                    async with http.post(url, json=body, headers=headers) as response:
                        statuses[response.status] += 1
            elapsed = time.perf_counter() - started
            await d.stop()
        reached = sum(1 for a in server.actions if a.get("Action") == "Originate")
        flood_lines = sum("control.flood" in line for line in d.log.read_text(encoding="utf-8").splitlines())
    say(
        "1 click-to-call flood",
        f"{count} originates through one amoCRM widget token, extensions rotated, in {elapsed:.2f} s",
        f"accepted {statuses[200]} ({statuses[200] / elapsed:.1f}/s over the burst), refused "
        f"{sum(v for k, v in statuses.items() if k != 200)} (statuses {dict(statuses)}), reached AMI "
        f"{reached}, control.flood alerts logged {flood_lines}; "
        f"5xx: {sum(v for k, v in statuses.items() if k >= 500)}",
    )


# -- 2. AMI header injection ---------------------------------------------------------------------


async def injection() -> None:
    """CALL_IDs and extensions that would add AMI headers or channel variables."""
    from connector.control import CallControl, CallControlSettings
    from connector.errors import NotPermittedError

    sent: list[tuple[str, dict[str, str]]] = []

    class Pbx:
        async def send(self, action: str, headers: Any = None, **_: Any) -> Any:
            sent.append((action, dict(headers or {})))
            return None

    control = CallControl(
        Pbx(), CallControlSettings(calls_per_minute=100, crm_calls_per_minute=100, total_calls_per_minute=100)
    )  # type: ignore[arg-type]
    bad = ["abc,OUTBOUND_ROUTE=evil", "abc\r\nAction: Hangup", 'a"b', "x(y", "a\x00b", "ok\nVariable: X=1"]
    refused = 0
    for call_id in bad:
        try:
            await control.originate("201", "+79161234567", crm_call_id=call_id)
        except NotPermittedError:
            refused += 1
    for ext in ("201\r\nAction: Hangup", "201,2"):
        try:
            await control.originate(ext, "+79161234567")
        except NotPermittedError:
            refused += 1
    say(
        "2 AMI header injection",
        f"{len(bad)} CRM call ids and 2 extensions with ',', quotes, parentheses, CR/LF, NUL",
        f"refused {refused} of {len(bad) + 2} before AMI; actions sent {len(sent)}",
    )


# -- 4. import bomb ------------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _bomb() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Имя"])
    sheet.append(["Иван"])
    plain = io.BytesIO()
    book.save(plain)
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != "xl/sharedStrings.xml":
                target.writestr(item.filename, source.read(item))
        # written in pieces: the 400 MB never exist at once in this process either
        with target.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
            for _ in range(400):
                part.write(b"a" * (1024 * 1024))
            part.write(b"</t></si></sst>")
    return out.getvalue()


async def import_bomb() -> None:
    """An XLSX of under a megabyte whose shared strings unpack to 400 MB."""
    from adapters.builtin import import_worker, importer

    data = await asyncio.to_thread(_bomb)
    before = _rss_mb()
    started = time.perf_counter()
    try:
        await import_worker.read_table(data, "bomb.xlsx")
        outcome = "accepted (!)"
    except importer.ImportFileError as exc:
        outcome = f"refused (422): {exc}"
    huge_field = b"\xd0\x98\xd0\xbc\xd1\x8f\n" + b"a" * (10 * 1024 * 1024) + b"\n"
    try:
        await import_worker.read_table(huge_field, "one.csv")
        csv_outcome = "accepted (!)"
    except importer.ImportFileError as exc:
        csv_outcome = f"refused (422): {exc}"
    say(
        "4 import bomb",
        f"XLSX of {len(data) / 1024:.0f} KB whose sharedStrings unpack to 400 MB; a CSV with one 10 MB field",
        f"XLSX {outcome} in {time.perf_counter() - started:.2f} s; daemon-side RSS {before:.0f} → "
        f"{_rss_mb():.0f} MB (parsing happens in a worker capped at {import_worker.MEMORY >> 20} MB); "
        f"CSV {csv_outcome}",
    )


# -- 7. configuration ----------------------------------------------------------------------------

BAD_CONFIGS: dict[str, bytes] = {
    "http.port 0": b"ami:\n  username: crm\n  secret: s\nhttp:\n  port: 0\n",
    "empty ami.secret": b"ami:\n  username: crm\n  secret: ''\n",
    "number_patterns: 5": b"ami:\n  username: crm\n  secret: s\ncall_control:\n  number_patterns: 5\n",
    "ping_timeout 500 s": b"ami:\n  username: crm\n  secret: s\n  ping_timeout: 500\n",
    "relative storage.dir": b"ami:\n  username: crm\n  secret: s\nstorage:\n  dir: state\n",
    "non-UTF-8 bytes": b"ami:\n  username: crm\n  secret: \xcf\xf0\xe8\n",
    "YAML alias bomb": b"ami:\n  username: crm\n  secret: s\n"
    + b'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n".encode() for i in range(9)
    ),
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))


def configs(tmp: Path) -> None:
    """Each bad config through `crm-connector check-config` under a 512 MB address-space cap."""
    for name, text in BAD_CONFIGS.items():
        path = tmp / "bad.yaml"
        path.write_bytes(text)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "connector.cli", "check-config", "-q", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
            preexec_fn=_cap_memory,
        )
        message = result.stderr.strip().splitlines()[-1][:110] if result.stderr.strip() else ""
        say(
            f"7 config: {name}",
            "check-config",
            f"exit {result.returncode} in {time.perf_counter() - started:.2f} s: "
            f"{message.replace(str(tmp), '…')}",
        )


# -- 8. clock jumps --------------------------------------------------------------------------------


def clock_jumps() -> None:
    """Recorded calls with one event stamped 1e11, 1e30, inf, nan or now + 5 h."""
    from bench._fuzzkit import samples, track

    total = lost = calls = clean_calls = 0
    for sample in samples():
        clean = track(sample.events, sample.rules)
        for stamp in ("1e11", "1e30", "inf", "nan", "+5h"):
            events = [dict(e) for e in sample.events]
            middle = events[len(events) // 2]
            base = float(str(middle.get("Timestamp", "0")) or 0)
            middle["Timestamp"] = f"{base + 5 * 3600:.6f}" if stamp == "+5h" else stamp
            outcome = track(events, sample.rules)
            total += 1
            calls += outcome.calls
            clean_calls += clean.calls
            lost += len(outcome.lost) + max(0, clean.calls - outcome.calls)
    say(
        "8 clock jumps",
        f"{total} runs: each of the {total // 5} recorded captures with one event stamped 1e11, 1e30, inf, "
        "nan, +5 h",
        f"calls out {calls} (clean runs {clean_calls}); lost {lost}",
    )


# -- 9. damaged outbox ---------------------------------------------------------------------------


def _damage(path: Path, fault: str) -> None:
    if fault == "truncated":
        path.write_bytes(b"")
    elif fault == "vanished":
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
    else:
        data = bytearray(path.read_bytes())
        data[4096:-4096] = bytes(len(data) - 8192)
        path.write_bytes(bytes(data))


def _run_on_a_file(tmp: Path) -> int:
    """`crm-connector run` with storage.dir being a file: its exit code."""
    from tests.unit.service.daemon import free_port, write_config

    (tmp / "file").mkdir(parents=True, exist_ok=True)
    (tmp / "file" / "state").write_text("a file", encoding="utf-8")
    config = write_config(tmp / "file", ami_port=free_port(), username="crm", http_port=free_port())
    run = subprocess.run(
        [sys.executable, "-m", "connector.cli", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AMI_SECRET": "s3cret"},
        cwd=ROOT,
        check=False,
    )
    return run.returncode


async def damaged_outbox(tmp: Path) -> None:
    """An outbox with 60 calls truncated to 0 bytes, deleted, zeroed; storage.dir a file."""
    from connector.errors import StorageError
    from connector.sync.outbox import Outbox
    from tests.unit.sync.conftest import make_call

    results = []
    for fault in ("truncated", "vanished", "zeroed"):
        path = tmp / fault / "outbox.db"
        outbox = await Outbox.open(path)
        for n in range(60):
            await outbox.record_call(make_call(f"1700000000.{n}", minutes=n), [])
        await outbox.close()
        await asyncio.to_thread(_damage, path, fault)
        try:
            reopened = await Outbox.open(path)
            rows = await reopened.db.fetch("SELECT count(*) FROM calls")
            await reopened.close()
            results.append(f"{fault}: OPENED with {rows[0][0]} calls (!)")
        except StorageError as exc:
            results.append(f"{fault}: refused ({str(exc).split(':')[0].replace(str(tmp), '…')})")
    code = await asyncio.to_thread(_run_on_a_file, tmp)
    results.append(f"storage.dir is a file: daemon exit {code}")
    say(
        "9 damaged outbox",
        "60 journalled calls, then the file truncated / deleted / zeroed",
        "; ".join(results),
    )


# -- 10. disk full -------------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_disk(tmp: Path) -> Any:
    """A 4 MB tmpfs when this process may mount one (root), else None."""
    mount = tmp / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


async def disk_full(tmp: Path) -> None:
    """40 calls finished while the disk is full; space returns after a while."""
    from connector.ami.feed import CallFeed
    from connector.api.health import HealthSources
    from connector.calls.rules import TrackerRules
    from connector.calls.tracker import CallTracker
    from connector.sync.outbox import Outbox
    from tests.unit.ami.test_feed_disk_full import one_call

    with tiny_disk(tmp) as mount:
        folder = mount or tmp / "disk"
        outbox = await Outbox.open(folder / "outbox.db")
        feed = CallFeed(CallTracker(TrackerRules()), lambda c: outbox.record_call(c, []),
                        lambda e: outbox.record_live(e, []))  # fmt: skip
        health = HealthSources(stage="running", outbox=outbox, feed=feed)
        feed.start()
        filler = folder / "filler"
        if mount is not None:
            how = "a 4 MB tmpfs filled to the last byte"
            with filler.open("wb") as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
        else:
            how = "SQLite's max_page_count (SQLITE_FULL), no mount allowed here"
            pages = await outbox.db.fetch("PRAGMA page_count")
            await outbox.db.fetch(f"PRAGMA max_page_count = {pages[0][0]}")
        for n in range(1, 41):
            for event in one_call(n):
                feed.on_event(event)
        await asyncio.sleep(3)
        status = (await health.report())["status"]
        waiting = feed.queue.qsize()
        if mount is not None:
            filler.unlink()
        else:
            await outbox.db.fetch("PRAGMA max_page_count = 1000000")
        async with asyncio.timeout(120):
            await feed.queue.join()
        rows = await outbox.db.fetch("SELECT count(*) FROM calls")
        await feed.stop(grace=1)
        await outbox.close()
    say(
        "10 disk full",
        f"40 calls finished while the disk was full ({how}), space back after 3 s",
        f"/healthz meanwhile: {status}, {waiting} record(s) waiting in memory; written once space "
        f"returned: {rows[0][0]} of 40; dropped {feed.stats.dropped}",
    )


# -- 11. SIGTERM and kill -9 loops ---------------------------------------------------------------


async def stop_loops(tmp: Path, rounds: int) -> None:
    """A call rings, the daemon is stopped (SIGTERM or kill -9), the call ends or goes on meanwhile."""
    from tests.unit.ami import calls as fake
    from tests.unit.ami.amiserver import AmiServer
    from tests.unit.service.daemon import daemon, free_port, journal, wait_report, wait_status, write_config

    async with AmiServer() as server:
        port = free_port()
        config = write_config(tmp, ami_port=server.port, username=server.username, http_port=port)
        made: list[str] = []
        for n in range(rounds):
            how = "SIGTERM" if n % 2 == 0 else "kill -9"
            events = _renamed(fake.ringing(1763805600.0 + n * 100), n)
            async with daemon(tmp, config, f"round{n}") as d:
                await wait_status(port, "ok")
                for event in events:
                    await server.send_event(event)
                made.append(f"{n}.1")
                await wait_report(port, "calls_in_progress", 1)
                if how == "SIGTERM":
                    await d.stop()
                else:
                    await _saved(tmp, f"{n}.1")
                    d.process.send_signal(signal.SIGKILL)
                    await d.process.wait()
            if n % 4 < 2:  # the call ends while the daemon is down
                server.channels = []
            else:  # it goes on, and ends after the restart
                server.channels = [
                    {k: v for k, v in c.items() if k != "ActionID"}
                    for c in _renamed(fake.snapshot_items(), n)
                ]
                async with daemon(tmp, config, f"after{n}") as again:
                    await wait_status(port, "ok")
                    for event in _renamed(fake.hangups(1763805660.0 + n * 100), n):
                        await server.send_event(event)
                    await wait_report(port, "calls_in_progress", 0)
                    await again.stop()
                server.channels = []
        async with daemon(tmp, config, "last") as last:
            await wait_status(port, "ok")
            await wait_report(port, "calls_in_progress", 0)
            await last.stop()
        recorded = Counter(c["id"] for c in await journal(tmp))
    lost = [m for m in made if m not in recorded]
    doubled = [k for k, v in recorded.items() if v > 1]
    say(
        "11 SIGTERM / kill -9 loops",
        f"{rounds} rounds alternating SIGTERM and kill -9 with a call ringing; half end while down",
        f"calls made {len(made)}, recorded {sum(recorded.values())}, lost {len(lost)}, "
        f"duplicated {len(doubled)}",
    )


def _renamed(events: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    return [{k: v.replace("1.1", f"{n}.1").replace("1.2", f"{n}.2") for k, v in e.items()} for e in events]


async def _saved(tmp: Path, linkedid: str) -> None:
    """Until the daemon's periodic save holds the call (another process: polled)."""
    from tests.unit.service.test_restart_resume import until_saved

    async with asyncio.timeout(30):
        await until_saved(tmp, linkedid)


async def run(quick: bool) -> None:
    """Every item, in a fresh temporary folder each."""
    steps: list[tuple[str, Callable[[Path], Any]]] = [
        ("flood", lambda t: flood(t, 200 if quick else 800)),
        ("injection", lambda t: injection()),
        ("import", lambda t: import_bomb()),
        ("config", lambda t: asyncio.to_thread(configs, t)),
        ("clock", lambda t: asyncio.to_thread(clock_jumps)),
        ("outbox", damaged_outbox),
        ("disk", disk_full),
        ("stops", lambda t: stop_loops(t, 4 if quick else 12)),
    ]
    for name, step in steps:
        tmp = Path(tempfile.mkdtemp(prefix=f"abuse-{name}-"))
        try:
            await step(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    """`python -m bench.abuse`."""
    parser = argparse.ArgumentParser(prog="python -m bench.abuse")
    parser.add_argument("--quick", action="store_true", help="fewer originates and stop rounds")
    args, _ = parser.parse_known_args()
    logs.configure("error", "console", [])
    asyncio.run(run(args.quick))


if __name__ == "__main__":
    main()

"""ARI beside AMI, in one run: the tracker's throughput per source, and click-to-call latency.

(1) Parse + track (also `python -m bench tracker --source ari`): the 9 scenarios recorded from
both sources at once (tests/fixtures/ari, `ARI_RECORD=1` in tests/pbx/test_ari.py) are played
`--passes` times, each pass through a fresh tracker (and, for ARI, a fresh translator). AMI:
the wire text (`format_ami`) parsed by `iter_ami_text`, then tracked. ARI: the WebSocket's
JSON text parsed by `json.loads`, translated (`connector.ari.translate`), then tracked. Events
per second are counted in each source's own events (ARI sends fewer, larger ones), and the
time per call record is given too, since that is what both sources are asked for.

(2) Click-to-call latency (`--latency N`, needs the harness's Asterisk: `make pbx-root`): the
time from the API's `CallControl.originate` to the employee's phone ringing (the world's
instance sees the INVITE: its `Newchannel` for the phone), N calls via AMI and N via ARI,
alternating, on one harness; p50/p99 of each. Figures only: nothing here asserts on time.

    python -m bench ari [--passes N] [--latency N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from connector.ari.translate import Translator
from connector.calls.capture import as_event, format_ami, iter_ami_text
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ari"


def load() -> list[dict[str, Any]]:
    """The recorded scenarios: numbering, AMI events and ARI events of each."""
    found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]
    if not found:
        raise SystemExit(f"bench.ari: no recordings in {FIXTURES}")
    return found


def wire(scenarios: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, list[str]]]:
    """Each scenario as it comes over the wire: AMI text, and ARI's JSON messages."""
    result = []
    for s in scenarios:
        ami = "".join(format_ami(e) for e in map(as_event, s["ami"]) if e is not None)
        result.append((s["numbering"], ami, [json.dumps(e, ensure_ascii=False) for e in s["ari"]]))
    return result


def run_ami(data: list[tuple[dict[str, Any], str, list[str]]], passes: int) -> tuple[int, int, float]:
    """Parse + track the AMI text `passes` times: (events, calls, seconds)."""
    events = calls = 0
    started = time.perf_counter()
    for _ in range(passes):
        for numbering, text, _ari in data:
            tracker = CallTracker(rules_from_numbering(numbering))
            for event in iter_ami_text(io.StringIO(text), lambda _warning: None):
                events += 1
                calls += sum(1 for item in tracker.feed(event) if not hasattr(item, "kind"))
    return events, calls, time.perf_counter() - started


def run_ari(data: list[tuple[dict[str, Any], str, list[str]]], passes: int) -> tuple[int, int, float]:
    """Parse + translate + track the ARI messages `passes` times: (events, calls, seconds)."""
    events = calls = 0
    started = time.perf_counter()
    for _ in range(passes):
        for numbering, _ami, messages in data:
            tracker = CallTracker(rules_from_numbering(numbering))
            translate = Translator()
            for message in messages:
                events += 1
                for event in translate(json.loads(message)):
                    calls += sum(1 for item in tracker.feed(event) if not hasattr(item, "kind"))
            for event in translate.flush():
                calls += sum(1 for item in tracker.feed(event) if not hasattr(item, "kind"))
    return events, calls, time.perf_counter() - started


def throughput(passes: int) -> None:
    """Print both sources' parse + track figures, measured in this run."""
    data = wire(load())
    figures = {"AMI": run_ami(data, passes), "ARI": run_ari(data, passes)}
    print(f"{len(data)} scenarios x {passes} passes, one fresh tracker per scenario and pass")
    for name, (events, calls, seconds) in figures.items():
        print(
            f"{name}: {events / seconds:10,.0f} events/s parse + track  {events:8d} events  "
            f"{calls:6d} records  {seconds / max(calls, 1) * 1e6:8.1f} µs/record  {seconds:6.2f} s"
        )
    ami, ari = figures["AMI"], figures["ARI"]
    ratio = (ari[2] / max(ari[1], 1)) / (ami[2] / max(ami[1], 1))
    print(f"baseline AMI; ARI costs {ratio:.2f}x AMI per call record")


# ------------------------------------------------------------------ click-to-call latency
async def _latency(count: int) -> None:
    from connector.ami.client import AmiClient
    from connector.ari.actions import AriActions
    from connector.ari.client import AriClient
    from connector.ari.settings import AriSettings
    from connector.calls.rules import rules_from_numbering as rules
    from connector.config import AmiSettings
    from connector.control import CallControl, CallControlSettings
    from connector.settings_schema import Secret
    from tests.pbx.harness import AMI_USER, NUMBERING, Harness

    h = await Harness.start()
    ami = AmiClient(
        AmiSettings(
            username=AMI_USER,
            secret=Secret(h.pbx_instance.values["AMI_SECRET"]),
            port=h.pbx_instance.ami_port,
            events=("system",),
        ),
        lambda event: None,
    )
    ari = AriClient(
        AriSettings(url=h.ari_url, username=AMI_USER, password=Secret(h.ari_secret), control="ari"),
        lambda event: None,
        everything=False,
    )
    ami.start()
    ari.start()
    settings = CallControlSettings(
        calls_per_minute=1000, crm_calls_per_minute=1000, total_calls_per_minute=1000
    )
    controls = {
        "AMI": CallControl(ami, settings, rules(NUMBERING)),
        "ARI": CallControl(AriActions(ari), settings, rules(NUMBERING)),
    }
    took: dict[str, list[float]] = {"AMI": [], "ARI": []}
    try:
        await ami.wait_connected(10)
        await ari.wait_connected(10)
        await h.phone("201", "noanswer")  # rings until the bench puts it down
        for n in range(count):
            for name, control in controls.items():
                mark = len(h.world.events)
                started = time.perf_counter()
                await control.originate("201", f"8916{n:07d}")
                ringing = await h.world_leg_of("201", since=mark)
                took[name].append((time.perf_counter() - started) * 1000)
                await h.hangup_world(ringing)
                await h.wait_idle()
    finally:
        await ari.stop()
        await ami.stop()
        await h.stop()
    print(f"click-to-call → the employee's phone rings, {count} calls each, ms (baseline AMI):")
    for name, values in took.items():
        p99 = statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]
        print(f"{name}: p50 {statistics.median(values):7.1f}  p99 {p99:7.1f}  max {max(values):7.1f}")


def main() -> None:
    """Throughput always; latency when asked (it starts the harness's Asterisk)."""
    parser = argparse.ArgumentParser(description="ARI vs AMI: tracker throughput, click-to-call latency")
    parser.add_argument("--passes", type=int, default=200, help="passes over the scenarios (default 200)")
    parser.add_argument("--latency", type=int, default=0, help="click-to-calls per source on the harness")
    args, _ = parser.parse_known_args(sys.argv[1:])
    throughput(args.passes)
    if args.latency:
        asyncio.run(_latency(args.latency))


if __name__ == "__main__":
    main()

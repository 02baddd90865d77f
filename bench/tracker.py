"""Call tracker throughput: parsing AMI text alone vs parsing + tracking, in the same run.

Builds a large raw-AMI capture from every recorded capture in tests/fixtures/ami, repeated with
renamed uniqueids, linkedids and bridge ids and shifted timestamps (at least 200k events), then
runs two stages, each in a fresh child process so peak RSS is its own: (a) parse only, (b) parse
and feed every event to `CallTracker`. Prints events/s and peak RSS for both and the tracker's
cost relative to the parse. Figures only: nothing here asserts on time.

    python -m bench.tracker [--events N] [--keep FILE]
    python -m bench tracker --source ari   (AMI vs ARI on the same scenarios: bench.ari)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from connector.calls.capture import AmiEvent, format_ami, iter_ami_text, read_capture
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"
_ID_KEYS = ("Uniqueid", "Linkedid")


def load_captures() -> list[list[AmiEvent]]:
    """The events of every recorded capture, one list per file."""
    return [read_capture(path).events for path in sorted(FIXTURES.glob("*.json"))]


def renamed(event: AmiEvent, copy: int, shift: float) -> AmiEvent:
    """`event` as it would be in copy number `copy`: new ids, timestamps moved by `shift`."""
    return {
        key: _renamed(key, value, copy, shift) if isinstance(value, str) else value
        for key, value in event.items()
    }


def _renamed(key: str, value: str, copy: int, shift: float) -> str:
    if key.endswith(_ID_KEYS) and "." in value:
        head, _, seq = value.rpartition(".")
        return f"{head}.{int(seq) * 10000 + copy}" if seq.isdigit() else value
    if key.endswith("BridgeUniqueid") and value:
        return f"{value}-{copy}"
    if key == "Timestamp":
        return f"{float(value) + shift:.6f}"
    return value


def write_big_capture(path: Path, minimum: int) -> int:
    """Write at least `minimum` events of AMI text to `path`; the number written."""
    captures = [c for c in load_captures() if c]
    if not captures:
        raise SystemExit(f"bench.tracker: no captures in {FIXTURES}")
    written, copy = 0, 0
    with path.open("w", encoding="utf-8", newline="") as out:
        while written < minimum:
            for events in captures:
                shift = copy * 3600.0
                out.writelines(format_ami(renamed(e, copy, shift)) for e in events)
                written += len(events)
                copy += 1
    return written


def run_stage(stage: str, path: Path) -> dict[str, float]:
    """Run one stage on `path` in this process; its figures."""
    warnings: list[str] = []
    tracker = CallTracker(rules_from_numbering({"country": "7", "dids": ["74951110001", "74951110002"]}))
    events = calls = 0
    started = time.perf_counter()
    with path.open(encoding="utf-8") as lines:
        for event in iter_ami_text(lines, warnings.append):
            events += 1
            if stage == "track":
                calls += sum(1 for item in tracker.feed(event) if not hasattr(item, "kind"))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "events": events,
        "seconds": seconds,
        "calls": calls,
        "peak_rss_mib": peak_kib / 1024,
        "in_progress": tracker.in_progress,
    }


def _child(stage: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.tracker", "--stage", stage, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    """Build the big capture, run both stages, print the figures."""
    parser = argparse.ArgumentParser(description="call tracker throughput vs AMI parsing")
    parser.add_argument("--events", type=int, default=200_000, help="minimum events (default 200000)")
    parser.add_argument("--stage", choices=("parse", "track"), help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", choices=("ami", "ari"), default="ami", help="ari: AMI vs ARI (bench.ari)")
    args, _ = parser.parse_known_args(sys.argv[1:] if __name__ == "__main__" else [])
    if args.source == "ari" or "--source=ari" in sys.argv or sys.argv[-2:] == ["--source", "ari"]:
        from bench import ari

        ari.throughput(200)
        return
    if args.stage:
        print(json.dumps(run_stage(args.stage, args.path)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.ami"
        total = write_big_capture(path, args.events)
        size = path.stat().st_size / 2**20
        print(f"capture: {total} events, {size:.1f} MiB of AMI text")
        parse, track = _child("parse", path), _child("track", path)
    for name, figures in (("(a) parse only", parse), ("(b) parse + track", track)):
        rate = figures["events"] / figures["seconds"]
        print(
            f"{name:18} {rate:12,.0f} events/s  {figures['seconds']:6.2f} s  "
            f"peak RSS {figures['peak_rss_mib']:6.1f} MiB"
        )
    per_event_parse = parse["seconds"] / parse["events"] * 1e6
    per_event_track = (track["seconds"] - parse["seconds"]) / track["events"] * 1e6
    print(
        f"tracker cost: {per_event_track:.2f} µs/event vs parse {per_event_parse:.2f} µs/event "
        f"({per_event_track / per_event_parse:.0%} of the parse)"
    )
    print(f"calls emitted: {track['calls']:.0f}; still in progress at the end: {track['in_progress']:.0f}")


if __name__ == "__main__":
    main()

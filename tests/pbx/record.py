"""Record AMI captures of the scenario catalogue into tests/fixtures/ami/<scenario>.json.

Usage (as root, from the repository root):
    python -m tests.pbx.record                 # every scenario
    python -m tests.pbx.record NAME [NAME...]  # only these
    python -m tests.pbx.record --list          # the catalogue
    python -m tests.pbx.record --profile mikopbx [NAME...]   # on MikoPBX's dialplan
    python -m tests.pbx.record --truth-only [--profile P]    # rewrite committed truths only
Captures of the "asterisk" profile go to tests/fixtures/ami/, those of "mikopbx" to
tests/fixtures/ami/mikopbx/.
Each capture is checked against its truth's basic facts (tests/pbx/checks.py); a mismatch is
reported and makes the exit status 1, but the capture is still written for inspection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from .checks import problems
from .harness import DEFAULT_PROFILE, FIXTURES, PROFILES, Harness
from .scenarios import SCENARIOS, on_profile, record


def write_capture(capture: dict[str, Any], directory: Path = FIXTURES) -> Path:
    """Write one capture as pretty, UTF-8 JSON (Cyrillic kept readable)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{capture['scenario']}.json"
    path.write_text(json.dumps(capture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


async def record_all(names: list[str], directory: Path, profile: str = DEFAULT_PROFILE) -> int:
    """Record the named scenarios on one harness; return the number that failed a check."""
    started = time.monotonic()
    h = await Harness.start(profile=profile)
    print(f"harness ({profile}) up in {time.monotonic() - started:.1f} s: Asterisk {h.asterisk_version}")
    failed = 0
    try:
        for name in names:
            began = time.monotonic()
            capture = await record(h, SCENARIOS[name])
            path = write_capture(capture, directory)
            found = problems(capture)
            failed += bool(found)
            status = "ok" if not found else "MISMATCH: " + "; ".join(found)
            print(
                f"{name}: {len(capture['events'])} events, "
                f"{time.monotonic() - began:.1f} s -> {path.name} [{status}]"
            )
    finally:
        await h.stop()
    print(f"recorded {len(names)} scenarios in {time.monotonic() - started:.1f} s")
    return failed


def rewrite_truths(names: list[str], directory: Path, profile: str) -> int:
    """Put the catalogue's truth into committed captures (events untouched): a truth gained a
    key (issue 24's reason) or was corrected after reading the events. Returns mismatches."""
    failed = 0
    for name in names:
        path = directory / f"{name}.json"
        if not path.exists():
            print(f"{name}: no capture to rewrite")
            failed += 1
            continue
        capture = json.loads(path.read_text(encoding="utf-8"))
        capture["truth"] = {"calls": SCENARIOS[name].truth_for(profile)}
        capture["numbering"] = PROFILES[profile].numbering
        write_capture(capture, directory)
        found = problems(capture)
        failed += bool(found)
        print(f"{name}: truth rewritten [{'ok' if not found else 'MISMATCH: ' + '; '.join(found)}]")
    return failed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="scenarios to record (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE, help="PBX profile")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: the profile's)")
    parser.add_argument("--truth-only", action="store_true", help="rewrite the truth of committed captures")
    args = parser.parse_args(argv)
    catalogue = on_profile(args.profile)
    if args.list:
        for sc in catalogue.values():
            print(f"{sc.name}: {sc.description}")
        return 0
    unknown = [n for n in args.names if n not in catalogue]
    if unknown:
        parser.error(f"not scenarios of the {args.profile} profile: {', '.join(unknown)}")
    names = args.names or list(catalogue)
    out = args.out or PROFILES[args.profile].fixtures
    if args.truth_only:
        return 1 if rewrite_truths(names, out, args.profile) else 0
    return 1 if asyncio.run(record_all(names, out, args.profile)) else 0


if __name__ == "__main__":
    sys.exit(main())

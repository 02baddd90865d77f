"""A million mangled AMI events through the real protocol reader and the call tracker.

Every recorded capture in tests/fixtures/ami, mangled per kind of damage (dropped, duplicated,
swapped, mistimed, blanked, deleted, cut or renamed events; junk channels; garbage bytes spliced
into the stream), sent as bytes cut at random places, parsed, and fed to a fresh tracker each.
Prints, per kind and in total, the events fed, the calls out, and the three failures the oracles
see (see bench/_fuzzkit.py): crashes, lost calls and duplicated calls — the goal is 0 — with the
first examples of each. The clean captures run first, as the baseline of the same run.

    python -m bench.fuzz [--events N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time

from bench._fuzzkit import (
    KINDS,
    Mutation,
    Outcome,
    corrupt_bytes,
    mutate,
    read_messages,
    samples,
    to_bytes,
    track,
)
from connector import logs


def run_kind(kind: str, budget: int, rng: random.Random) -> Outcome:
    """Mangle captures with `kind` (or none: "clean") until `budget` events have been fed."""
    found = samples()
    total = Outcome()
    while total.events < budget:
        sample = rng.choice(found)
        damage = (
            []
            if kind == "clean"
            else [
                Mutation(kind, rng.randrange(10_000), rng.randrange(10_000))
                for _ in range(rng.randrange(1, 6))
            ]
        )
        data = to_bytes(mutate(sample.events, damage))
        if kind == "bytes":
            data = corrupt_bytes(data, rng, rng.randrange(1, 6))
        cuts = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(0, 20))]
        total.add(track(read_messages(data, cuts), sample.rules, check_every=4))
    return total


def main() -> None:
    """Run every kind of damage and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in all (default 1M)")
    parser.add_argument("--seed", type=int, default=2026)
    args, _ = parser.parse_known_args()
    logs.configure("error", "console", [])  # bad stamps are logged by the tracker: not here
    kinds = ("clean", *KINDS, "bytes")
    per_kind = max(1, args.events // len(kinds))
    rng = random.Random(args.seed)
    grand = Outcome()
    header = ("damage", "events", "calls", "crashes", "lost", "duplicated", "ev/s")
    print("{:<10} {:>9} {:>7} {:>8} {:>6} {:>10} {:>8}".format(*header))
    for kind in kinds:
        started = time.perf_counter()
        outcome = run_kind(kind, per_kind, rng)
        rate = outcome.events / (time.perf_counter() - started)
        grand.add(outcome)
        print(f"{kind:<10} {outcome.events:>9} {outcome.calls:>7} {len(outcome.crashes):>8} "
              f"{len(outcome.lost):>6} {len(outcome.duplicated):>10} {rate:>8.0f}", flush=True)  # fmt: skip
        for label, items in (("crash", outcome.crashes), ("lost", outcome.lost), ("dup", outcome.duplicated)):
            for item in items[:2]:
                print(f"    {label}: {item}")
    print(f"{'total':<10} {grand.events:>9} {grand.calls:>7} {len(grand.crashes):>8} {len(grand.lost):>6} "
          f"{len(grand.duplicated):>10}")  # fmt: skip


if __name__ == "__main__":
    main()

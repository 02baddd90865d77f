"""`crm-connector replay FILE`: run the call tracker over a capture and print the calls.

One JSON object per finished call on stdout (JSON lines), in order of completion; `--events`
also prints the live events (objects with a "kind" key) as they happen. Warnings about damaged
input go to stderr. Calls still in progress at the end of the capture are closed and printed
with `"interrupted": true`. Times come from each event's `Timestamp` header; an event without
one is taken to be 1 ms after the previous event (from 1970-01-01T00:00:00Z if none had a
timestamp), so the order holds but durations then mean nothing. The numbering plan comes from
`-c FILE` (its numbering and calls sections) when given, else from the capture object's
`numbering`, with `--country` / `--internal-pattern` overriding it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from connector import config
from connector.calls.capture import FORMATS, read_capture
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import TrackerRules, rules_from_numbering, rules_from_settings
from connector.calls.tracker import CallTracker
from connector.errors import CaptureError, ConfigError

HELP = "replay an AMI capture through the call tracker and print the calls as JSON lines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `replay`."""
    parser.add_argument("file", help="capture file: JSON (object or array), JSON lines or raw AMI text")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="input format (default auto)")
    parser.add_argument("--events", action="store_true", help="also print live call events")
    parser.add_argument("-c", "--config", metavar="FILE", help="take the numbering plan from this config")
    parser.add_argument("--country", help="default country code for E.164 (default 7)")
    parser.add_argument("--internal-pattern", help=r"extension pattern (default ^[0-9]{2,5}$)")


def main(args: argparse.Namespace) -> int:
    """Exit 0 after printing the calls; 1 when the file cannot be read; 2 on a bad config."""
    try:
        capture = read_capture(args.file, args.format)
    except CaptureError as exc:
        print(f"crm-connector replay: {exc}", file=sys.stderr)
        return 1
    for warning in capture.warnings:
        print(f"crm-connector replay: warning: {warning}", file=sys.stderr)
    try:
        rules = _rules(args, capture.numbering)
    except (ConfigError, ValueError) as exc:
        print(f"crm-connector replay: {exc}", file=sys.stderr)
        return 2
    tracker = CallTracker(rules)
    for event in capture.events:
        for item in tracker.feed(event):
            _print(item, args.events, sys.stdout)
    leftover = tracker.close_all()
    if leftover:
        print(
            f"crm-connector replay: warning: {len(leftover)} call(s) still in progress at the end "
            "of the capture; closed as interrupted",
            file=sys.stderr,
        )
    for call in leftover:
        _print(call, args.events, sys.stdout)
    if tracker.skipped:
        print(f"crm-connector replay: warning: {tracker.skipped} event(s) not understood", file=sys.stderr)
    return 0


def _rules(args: argparse.Namespace, numbering: dict[str, Any] | None) -> TrackerRules:
    if args.config:
        return rules_from_settings(config.load(args.config))
    overrides: dict[str, Any] = {}
    if args.country:
        overrides["country_code"] = args.country
    if args.internal_pattern:
        overrides["internal_pattern"] = args.internal_pattern
    return rules_from_numbering(numbering, **overrides)


def _print(item: Call | LiveEvent, events: bool, out: TextIO) -> None:
    if events or isinstance(item, Call):
        out.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")

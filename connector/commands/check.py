"""`crm-connector check -c FILE`: ask the running daemon's /healthz; exit non-zero if unhealthy."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from connector.commands.common import add_config_option, load_or_exit

HELP = "ask the running daemon whether it is healthy (exit 0 ok, 1 unhealthy or unreachable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `check`."""
    add_config_option(parser)
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the daemon (default 5)"
    )
    parser.add_argument(
        "--allow-degraded",
        action="store_true",
        help="exit 0 when the daemon works but a CRM is paused or jobs were dead-lettered",
    )
    parser.add_argument("--json", action="store_true", help="print the whole /healthz answer as JSON")


def main(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when not (or unreachable), 2 on a bad config."""
    settings = load_or_exit(args.config)
    if settings is None:
        return 2
    host = settings.http.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: ask over loopback
    url = f"http://{'[' + host + ']' if ':' in host else host}:{settings.http.port}/healthz"
    report = fetch(url, args.timeout, settings.http.ops.token.get())
    if report is None:
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(summary(report))
    status = report.get("status")
    return 0 if status == "ok" or (status == "degraded" and args.allow_degraded) else 1


def fetch(url: str, timeout: float, token: str = "") -> dict[str, Any] | None:
    """The /healthz body (also from a 503 answer), or None after saying why it is unreachable."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"crm-connector: the daemon does not answer at {url}: {getattr(exc, 'reason', exc)}",
            file=sys.stderr,
        )
        return None
    try:
        report: dict[str, Any] = json.loads(body)
    except ValueError:
        print(f"crm-connector: {url} did not answer with JSON", file=sys.stderr)
        return None
    return report


def summary(report: dict[str, Any]) -> str:
    """A few human lines: the status, then each problem."""
    ami = report.get("ami") or {}
    outbox = report.get("outbox") or {}
    lines = [
        f"status: {report.get('status')} (AMI {'connected' if ami.get('connected') else 'NOT connected'}, "
        f"{report.get('calls_in_progress', 0)} call(s) in progress, outbox depth {outbox.get('depth', '?')})"
    ]
    lines += [f"  - {problem}" for problem in report.get("problems", [])]
    return "\n".join(lines)

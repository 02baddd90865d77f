"""`crm-connector outbox ...`: look into and operate the delivery outbox.

status        depth per adapter, oldest job, dead letters (--check: exit 1 if unhealthy)
list          jobs, newest first (--state, --adapter, --limit)
retry         requeue dead jobs: IDs (each with the rest of its conversation) or --all-dead
purge         delete --dead or --delivered jobs finished --older-than a duration (7d, 12h)
enqueue-json  journal Call JSON lines (as `replay` prints them) and queue their jobs
drain         deliver until nothing is left to deliver, then exit (arq's "burst" mode)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from connector import logs
from connector.calls.model import call_from_dict
from connector.commands.common import add_config_option, load_or_exit
from connector.config import Settings
from connector.errors import StorageError
from connector.sync.jobs import JobState, OutboxStats
from connector.sync.outbox import Outbox

HELP = "inspect and operate the delivery outbox (status, list, retry, purge, enqueue-json, drain)"
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(text: str) -> float:
    """Seconds from '90', '30s', '15m', '12h' or '7d' (an argparse type)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30s, 15m, 12h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `outbox` and its actions."""
    add_config_option(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="depth per adapter, oldest job, dead letters")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--check", action="store_true", help="also check the file; exit 1 if unhealthy")
    listing = actions.add_parser("list", help="jobs, newest first")
    listing.add_argument("--state", choices=[s.value for s in JobState], action="append", default=[])
    listing.add_argument("--adapter")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    retry = actions.add_parser("retry", help="requeue dead jobs")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all-dead", action="store_true", help="requeue every dead job")
    purge = actions.add_parser("purge", help="delete finished jobs")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--dead", action="store_true", help="dead letters")
    which.add_argument("--delivered", action="store_true", help="delivered jobs")
    purge.add_argument("--older-than", type=duration, required=True, metavar="DURATION")
    enqueue = actions.add_parser("enqueue-json", help="queue Call JSON lines (as `replay` prints)")
    enqueue.add_argument("file", help="a file of JSON lines, or - for stdin")
    drain = actions.add_parser("drain", help="deliver until nothing is left, then exit")
    drain.add_argument("--timeout", type=duration, default=None, metavar="DURATION")
    for action in (status, listing, retry, purge, enqueue, drain):
        # `outbox status -c FILE` as well as `outbox -c FILE status`.
        action.add_argument("-c", "--config", default=argparse.SUPPRESS, metavar="FILE", help="YAML config")


def main(args: argparse.Namespace) -> int:
    """Run one outbox action; exit 1 on a storage problem, 2 on a bad configuration."""
    settings = load_or_exit(args.config)
    if settings is None:
        return 2
    logs.configure(settings.logging.level, settings.logging.format, settings.secrets())
    if args.action == "retry" and not args.ids and not args.all_dead:
        print("crm-connector outbox retry: give job IDs or --all-dead", file=sys.stderr)
        return 2
    path = settings.outbox.path(settings.storage.dir)
    if args.action not in ("enqueue-json", "drain") and not path.exists():
        # Only writers create the file: `sudo crm-connector outbox status` must not leave behind
        # a root-owned database the daemon's user cannot write.
        print(f"crm-connector: no outbox at {path} yet (the daemon creates it)", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_run(settings, args))
    except StorageError as exc:
        print(f"crm-connector: {exc}", file=sys.stderr)
        return 1


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from connector.sync.wiring import open_outbox

    outbox = await open_outbox(settings)
    try:
        if args.action == "enqueue-json":
            return await _enqueue(settings, outbox, args)
        if args.action == "drain":
            return await _drain(settings, outbox, args)
        return await _OPERATIONS[args.action](outbox, args)
    finally:
        await outbox.close()


async def _status(outbox: Outbox, args: argparse.Namespace) -> int:
    stats = await outbox.stats()
    problems = await outbox.db.check() if args.check else []
    if args.json:
        print(json.dumps(_stats_plain(stats) | {"problems": problems}, ensure_ascii=False))
    else:
        print(_stats_table(stats))
        for problem in problems:
            print(f"database problem: {problem}")
    return 1 if args.check and (problems or stats.dead) else 0


def _stats_plain(stats: OutboxStats) -> dict[str, Any]:
    return {
        "journal_calls": stats.journal_calls,
        "adapters": {
            name: {
                "pending": a.pending,
                "running": a.running,
                "dead": a.dead,
                "delivered": a.delivered,
                "oldest_age": a.oldest_age,
            }
            for name, a in stats.adapters.items()
        },
    }


def _stats_table(stats: OutboxStats) -> str:
    lines = [f"{'adapter':<12} {'pending':>8} {'running':>8} {'dead':>6} {'delivered':>10}  oldest"]
    for name, a in stats.adapters.items():
        oldest = "-" if a.oldest_age is None else _age(a.oldest_age)
        lines.append(f"{name:<12} {a.pending:>8} {a.running:>8} {a.dead:>6} {a.delivered:>10}  {oldest}")
    lines.append(f"journal: {stats.journal_calls} calls")
    return "\n".join(lines)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


async def _list(outbox: Outbox, args: argparse.Namespace) -> int:
    states = [JobState(s) for s in args.state]
    jobs = await outbox.jobs(states=states, adapter=args.adapter, limit=args.limit)
    now = time.time()
    for job in jobs:
        if args.json:
            row = {
                "id": job.id,
                "key": job.key,
                "adapter": job.adapter,
                "kind": job.kind.value,
                "conversation": job.conversation,
                "state": job.state.value,
                "attempts": job.attempts,
                "created_at": job.created_at,
                "not_before": job.not_before,
                "last_error": job.last_error,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            due = (
                f" due in {_age(job.not_before - now)}"
                if job.state is JobState.PENDING and job.not_before > now
                else ""
            )
            error = f"  {job.last_error}" if job.last_error else ""
            print(
                f"#{job.id:<7} {job.adapter:<10} {job.kind.value:<17} {job.state.value:<9} "
                f"tries={job.attempts:<3} {job.conversation}{due}{error}"
            )
    return 0


async def _retry(outbox: Outbox, args: argparse.Namespace) -> int:
    count = await outbox.retry(args.ids, all_dead=args.all_dead)
    print(f"requeued {count} job(s); a running daemon picks them up within its poll interval")
    return 0 if count or args.all_dead else 1


async def _purge(outbox: Outbox, args: argparse.Namespace) -> int:
    state = JobState.DEAD if args.dead else JobState.DELIVERED
    count = await outbox.purge(state, args.older_than)
    print(f"deleted {count} {state.value} job(s)")
    return 0


async def _enqueue(settings: Settings, outbox: Outbox, args: argparse.Namespace) -> int:
    from connector.sync.drain import run_enqueue

    try:
        documents = read_calls(args.file)
    except (OSError, ValueError) as exc:
        print(f"crm-connector outbox enqueue-json: {exc}", file=sys.stderr)
        return 1
    added = await run_enqueue(settings, outbox, documents)
    print(f"journalled {len(documents)} call(s), queued {added} new job(s)")
    return 0


async def _drain(settings: Settings, outbox: Outbox, args: argparse.Namespace) -> int:
    from connector.sync.drain import run_drain

    stop = asyncio.Event()
    install_stop(stop)
    done = await run_drain(settings, outbox, stop, args.timeout)
    stats = await outbox.stats()
    print(f"{'drained' if done else 'stopped'}: {stats.depth} job(s) left, {stats.dead} dead letter(s)")
    return 0 if done else 1


_OPERATIONS = {"status": _status, "list": _list, "retry": _retry, "purge": _purge}


def read_calls(file: str) -> list[dict[str, Any]]:
    """Call dicts from a JSON-lines file (or stdin for '-'); blank lines skipped."""
    with contextlib.ExitStack() as stack:
        stream = sys.stdin if file == "-" else stack.enter_context(Path(file).open(encoding="utf-8"))
        documents: list[dict[str, Any]] = []
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                call_from_dict(data)  # validate now, not in a worker hours later
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{file}:{number}: not a Call JSON line: {exc}") from exc
            documents.append(data)
    return documents


def install_stop(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set `stop`, so a drain ends as cleanly as the daemon."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

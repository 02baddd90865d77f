"""`crm-connector demo`: the daemon on the built-in CRM with calls from recorded real captures.

A local AMI server (`demo_ami`) replays tests/fixtures/ami/*.json with fresh ids and current
times through the real AMI client, tracker, outbox and adapter; the CRM's pages show the calls
arriving and pop the caller's card. State lives in a throwaway folder (./.demo), wiped on
every start. `--live` uses the real Asterisk of tests/pbx when its root has been built.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from connector import config, logs
from connector.config import Settings

if TYPE_CHECKING:
    from connector.commands.demo_seed import Credential

HELP = "run a demonstration on the built-in CRM with replayed real calls (state under ./.demo)"
MARKER = ".crm-connector-demo"  # only a folder holding this is ever wiped
ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `demo`."""
    parser.add_argument("--dir", default=".demo", help="state directory for the demo (default .demo)")
    parser.add_argument("--port", type=int, default=8088, help="HTTP port of the pages (default 8088)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the pages listen on (default 127.0.0.1; 0.0.0.0: every one)",
    )
    parser.add_argument("--captures", default=str(ROOT / "tests/fixtures/ami"), help="folder of AMI captures")
    parser.add_argument("--pause", type=float, default=8.0, help="seconds between replayed calls (default 8)")
    parser.add_argument("--live", action="store_true", help="use the real Asterisk of tests/pbx")


def main(args: argparse.Namespace) -> int:
    """Prepare the state folder, start the replay (or the real PBX) and the daemon, say where to look."""
    state = Path(args.dir).resolve()
    busy = port_in_use(args.host, args.port)
    if busy:
        print(f"demo: cannot listen on {args.host}:{args.port} ({busy}); choose another with --port"
              " (make demo PORT=...)")  # fmt: skip
        return 2
    if not _fresh_state(state):
        return 2
    if args.live:
        from connector.commands.demo_live import run_live

        return asyncio.run(run_live(args, state))
    from connector.commands.demo_ami import load_scenarios

    scenarios = load_scenarios(sorted(Path(args.captures).glob("*.json")))
    if not scenarios:
        print(f"demo: no AMI captures found in {args.captures}")
        return 1
    return asyncio.run(_run(args, state, scenarios))


def port_in_use(host: str, port: int) -> str | None:
    """Why the pages could not listen on `host:port` (None: they can), asked before the banner."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _fresh_state(state: Path) -> bool:
    """Empty the demo folder (only one the demo made: it holds the marker file)."""
    if state.exists() and any(state.iterdir()) and not (state / MARKER).exists():
        print(f"demo: {state} exists and is not a demo folder; choose another with --dir")
        return False
    shutil.rmtree(state, ignore_errors=True)
    (state / "monitor").mkdir(parents=True)
    (state / MARKER).write_text("state of `crm-connector demo`; wiped on every demo start\n")
    return True


def demo_settings(
    state: Path,
    ami_port: int,
    http_port: int,
    *,
    http_host: str = "127.0.0.1",
    ami_user: str = "demo",
    ami_secret: str = "demo",
    recordings_dir: Path | None = None,
) -> Settings:
    """The demo's configuration, validated like any other."""
    data: dict[str, Any] = {
        "ami": {
            "host": "127.0.0.1",
            "port": ami_port,
            "username": ami_user,
            "secret": ami_secret,
            "cdr_recovery": {"enabled": False},  # the demo has no MikoPBX cdr.db
        },
        "http": {"host": http_host, "port": http_port, "link_secret": secrets.token_hex(16)},
        "storage": {"dir": str(state), "recordings_dir": str(recordings_dir or state / "monitor")},
        "numbering": {
            "lines": [
                {"number": "74951110001", "name": "Сайт"},
                {"number": "74951110002", "name": "Яндекс.Директ"},
            ]
        },
        "logging": {"level": "info", "format": "console"},
        "adapters": {"builtin": {"enabled": True}},
    }
    return config.loads(yaml.safe_dump(data, allow_unicode=True), "<demo>")


async def _run(args: argparse.Namespace, state: Path, scenarios: list[list[dict[str, Any]]]) -> int:
    from connector import service
    from connector.commands.demo_ami import AmiReplayServer
    from connector.commands.demo_seed import seed

    replay = AmiReplayServer(scenarios, state / "monitor", pause=args.pause)
    ami_port = await replay.start()
    try:
        settings = demo_settings(state, ami_port, args.port, http_host=args.host)
        logs.configure("info", "console", settings.secrets())
        tokens = await seed(state / "builtin.db")
        source = f"{len(scenarios)} recorded scenarios replayed with fresh ids"
        announce(settings, tokens, "calls replayed from real Asterisk captures", source, args.pause)
        return await service.run(settings)
    finally:
        await replay.close()


def announce(
    settings: Settings, people: dict[str, Credential], headline: str, source: str, pause: float
) -> None:
    """Print where to look and how to sign in (the passwords are made up afresh on every start)."""
    host = settings.http.host
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{settings.http.port}/crm/"
    admin, manager, employee = people["201"], people["202"], people["203"]
    print(
        "\n"
        f"  crm-connector demo: the built-in CRM with {headline}\n"
        f"  open      {url}\n"
        f"  sign in   login {admin.login:<8} password {admin.password}   (201, admin: every call, employees,"
        " audit log; calls ring 201, 202, 203, 205)\n"
        f"            login {manager.login:<8} password {manager.password}   (202, manager: every call)\n"
        f"            login {employee.login:<8} password {employee.password}   (203, employee)\n"
        f"  API       Authorization: Bearer {admin.token}   (admin's token, for scripts)\n"
        f"  calls     {source}, {pause:g} s apart\n"
        "  stop      Ctrl-C\n",
        flush=True,
    )

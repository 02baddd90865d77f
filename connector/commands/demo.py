"""`crm-connector demo`: run the connector on the built-in CRM with a throwaway state directory."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from connector import config, logs

HELP = "run a demonstration on the built-in CRM (state under ./.demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `demo`."""
    parser.add_argument("--dir", default=".demo", help="state directory for the demo (default .demo)")
    parser.add_argument("--live", action="store_true", help="use the real Asterisk of tests/pbx")


def main(args: argparse.Namespace) -> int:
    """Start the daemon with a demo configuration and say what to look at."""
    state = Path(args.dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    text = Path("config/connector.example.yaml").read_text(encoding="utf-8")
    settings = config.loads(text, "config/connector.example.yaml", {"AMI_SECRET": "demo"})
    import dataclasses

    settings = dataclasses.replace(settings, storage=dataclasses.replace(settings.storage, dir=state))
    logs.configure("info", "console", settings.secrets())
    print(f"demo: configuration loaded; state in {state}")
    print("demo: the call tracker, AMI replay and built-in CRM pages are not built yet; press Ctrl-C to stop")
    from connector import service

    return asyncio.run(service.run(settings))

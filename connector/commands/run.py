"""`crm-connector run -c FILE`: the daemon."""

from __future__ import annotations

import argparse
import asyncio

from connector import logs
from connector.commands.common import add_config_option, load_or_exit

HELP = "run the connector daemon (what systemd starts)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `run`."""
    add_config_option(parser)


def main(args: argparse.Namespace) -> int:
    """Load the config, then run the service until SIGTERM/SIGINT."""
    settings = load_or_exit(args.config)
    if settings is None:
        return 2
    logs.configure(settings.logging.level, settings.logging.format, settings.secrets())
    from connector import service

    return asyncio.run(service.run(settings))

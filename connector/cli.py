"""`crm-connector`: the command-line entry point.

Each subcommand lives in `connector/commands/<name>.py` with `HELP`, `add_arguments(parser)` and
`main(args) -> int`; it is imported only when used. Exit codes: 0 ok, 1 failure, 2 bad
configuration or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from connector import __version__

COMMANDS: dict[str, str] = {
    "run": "connector.commands.run",
    "check-config": "connector.commands.check_config",
    "check": "connector.commands.check",
    "demo": "connector.commands.demo",
    "replay": "connector.commands.replay",
    "outbox": "connector.commands.outbox",
    "backup": "connector.commands.backup",
    "users": "adapters.builtin.users_command",  # the built-in CRM's accounts
    "migrate": "adapters.builtin.migrate_command",  # the built-in CRM from SQLite into PostgreSQL
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crm-connector", description="MikoPBX (Asterisk) calls into your CRM."
    )
    parser.add_argument("--version", action="version", version=f"crm-connector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the subcommand, return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args._module.main(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

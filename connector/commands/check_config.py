"""`crm-connector check-config -c FILE`: validate the config and print it with secrets masked."""

from __future__ import annotations

import argparse
import sys

import yaml

from connector.commands.common import add_config_option, load_or_exit
from connector.settings_schema import to_plain

HELP = "validate the configuration and print the effective settings (secrets masked)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `check-config`."""
    add_config_option(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when the config is valid")


def main(args: argparse.Namespace) -> int:
    """Exit 0 when valid, 2 with the file, key, line and reason when not."""
    settings = load_or_exit(args.config)
    if settings is None:
        return 2
    for name, section in settings.adapters.items():
        # valid, but unable to do part of its job (e.g. Bitrix24 through an inbound webhook)
        for warning in getattr(section, "warnings", list)():
            print(f"warning: adapters.{name}: {warning}", file=sys.stderr)
    if not args.quiet:
        plain = to_plain(settings)
        print(yaml.safe_dump(plain, allow_unicode=True, sort_keys=False), end="")
    return 0

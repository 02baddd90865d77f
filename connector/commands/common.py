"""Helpers shared by subcommands: the -c option and loading the config with a clear error."""

from __future__ import annotations

import argparse
import os
import sys

from connector import config
from connector.errors import ConfigError

DEFAULT_CONFIG = os.environ.get("CRM_CONNECTOR_CONFIG", "/etc/crm-connector/connector.yaml")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """`-c/--config FILE` (default $CRM_CONNECTOR_CONFIG or /etc/crm-connector/connector.yaml)."""
    parser.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help=f"YAML config (default {DEFAULT_CONFIG})",
    )


def load_or_exit(path: str) -> config.Settings | None:
    """The settings, or None after printing the error (the caller exits 2)."""
    try:
        return config.load(path)
    except ConfigError as exc:
        print(f"crm-connector: configuration error: {exc}", file=sys.stderr)
        return None

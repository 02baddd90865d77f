"""`crm-connector migrate --to postgresql://...`: the built-in CRM from its SQLite file into PostgreSQL.

    crm-connector migrate -c FILE --to postgresql://crm@db.example:5432/crm
    crm-connector migrate --from /var/lib/crm-connector/builtin.db --to postgresql://crm@db/crm

Stop the daemon first (the file must not change while it is copied). The password is read from
the environment variable CRM_DB_PASSWORD, or --password-file, or libpq's own PGPASSWORD /
~/.pgpass; never from the command line. Run it again after an interruption: it resumes. Exit 0
when every table's count and checksum agree, 1 when not (or on an error), 2 on bad usage. Then set
`adapters.builtin.database` (docs/scaling.md) and start the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from adapters.builtin.db import PostgresTarget
from adapters.builtin.migrate import BATCH, MigrationError, Report, migrate
from connector.commands.common import add_config_option, load_or_exit
from connector.errors import StorageError
from connector.settings_schema import Secret

HELP = "copy the built-in CRM's SQLite database into PostgreSQL (resumable, verified)"
PASSWORD_ENV = "CRM_DB_PASSWORD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `migrate`."""
    add_config_option(parser)
    parser.add_argument("--to", required=True, help="postgresql://user@host:5432/database (no password)")
    parser.add_argument("--from", dest="source", type=Path, help="the SQLite file (default: the config's)")
    parser.add_argument(
        "--password-file", type=Path, help=f"a file holding the password (else ${PASSWORD_ENV})"
    )
    parser.add_argument("--batch", type=int, default=BATCH, help=f"rows per batch (default {BATCH})")


def main(args: argparse.Namespace) -> int:
    """Copy, verify, print a table of counts and checksums."""
    source: Path | None = args.source
    if source is None:
        settings = load_or_exit(args.config)
        if settings is None:
            return 2
        from adapters.builtin import Settings as BuiltinSettings

        crm = settings.adapters.get("builtin") or BuiltinSettings()
        source = crm.path(settings.storage.dir)
    if not source.is_file():
        print(f"crm-connector migrate: no SQLite CRM at {source}", file=sys.stderr)
        return 2
    try:
        target = PostgresTarget(args.to, _password(args.password_file))
    except (ValueError, OSError) as exc:
        print(f"crm-connector migrate: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.batch <= 100_000:
        print("crm-connector migrate: --batch must be between 1 and 100000", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(migrate(source, target, batch=args.batch, progress=_progress))
    except (MigrationError, StorageError) as exc:
        print(f"crm-connector migrate: {exc}", file=sys.stderr)
        return 1
    _print(report, target)
    return 0 if report.ok else 1


def _password(file: Path | None) -> Secret | None:
    if file is not None:
        return Secret(file.read_text("utf-8").strip())
    value = os.environ.get(PASSWORD_ENV)
    return Secret(value) if value else None


def _progress(table: str, copied: int) -> None:
    print(f"  {table}: {copied} rows", file=sys.stderr, flush=True)


def _print(report: Report, target: PostgresTarget) -> None:
    print(f"{'table':<28} {'rows':>10} {'in PostgreSQL':>14}  checksum")
    for t in report.tables:
        mark = "ok" if t.ok else f"MISMATCH (source {t.source_sum})"
        print(f"{t.table:<28} {t.rows:>10} {t.target_rows:>14}  {t.target_sum} {mark}")
    verdict = "verified" if report.ok else "NOT verified"
    print(f"{len(report.tables)} tables copied into {target}: {verdict}")

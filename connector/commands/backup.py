"""`crm-connector backup`: a consistent copy of everything the connector keeps, while it runs.

    crm-connector backup -c /etc/crm-connector/connector.yaml --to /storage/backup/crm

Makes `<to>/crm-connector-<UTC time>/` with
- the outbox (`outbox.db`, with its identity marker) and the built-in CRM (`builtin.db`) when it is
  on SQLite, each copied through SQLite's online backup (a consistent snapshot even while the
  daemon writes; WAL mode lets it go on) and checked with `PRAGMA integrity_check`;
- the journal of calls in progress (`calls-in-progress.json` and its tail), copied as they are;
- `MANIFEST.txt`: what was copied, sizes, checks, and how to restore.
A built-in CRM on PostgreSQL is not copied here (`pg_dump` does that; the manifest says so).
Restore: stop the daemon, copy the files back into `storage.dir`, start it.

Exit 0 when every copy checks out, 1 when one does not (or cannot be made), 2 on bad configuration.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connector.commands.common import add_config_option, load_or_exit
from connector.config import Settings
from connector.sync import inflight
from connector.sync.integrity import marker_path

HELP = "copy the outbox, the built-in CRM (SQLite) and calls in progress, consistently, while running"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `backup`."""
    add_config_option(parser)
    parser.add_argument("--to", required=True, help="folder that receives a new dated backup folder")


@dataclass(frozen=True, slots=True)
class Copied:
    """One file of the backup and how it checked out."""

    name: str
    size: int
    check: str  # "ok", "copied as is", or what is wrong


def main(args: argparse.Namespace) -> int:
    """Make the backup; print where it is."""
    settings = load_or_exit(args.config)
    if settings is None:
        return 2
    folder = Path(args.to).resolve() / f"crm-connector-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    try:
        copied, notes = backup(settings, folder)
    except (OSError, sqlite3.Error) as exc:
        print(f"crm-connector backup: {exc}", file=sys.stderr)
        return 1
    bad = [c for c in copied if c.check not in ("ok", "copied as is")]
    for line in _manifest(copied, notes):
        print(line)
    print(f"backup: {folder}")
    return 1 if bad or not copied else 0


def backup(settings: Settings, folder: Path) -> tuple[list[Copied], list[str]]:
    """Copy what `settings` keeps into `folder` (made here); the files copied and notes."""
    folder.mkdir(parents=True)
    copied: list[Copied] = []
    notes: list[str] = []
    outbox = settings.outbox.path(settings.storage.dir)
    copied.append(_sqlite_copy(outbox, folder / "outbox.db"))
    if marker_path(outbox).exists():
        copied.append(_plain_copy(marker_path(outbox), folder / marker_path(outbox).name))
    # An adapter that keeps a database says where (`target(storage_dir)`: the built-in CRM does).
    for name, adapter in sorted(settings.adapters.items()):
        target = getattr(adapter, "target", None)
        if not callable(target):
            continue
        where = target(settings.storage.dir)
        if isinstance(where, Path):
            copied.append(_sqlite_copy(where, folder / where.name))
        else:
            notes.append(
                f"adapters.{name} keeps its data in PostgreSQL: back it up with pg_dump (docs/scaling.md)"
            )
    journal = inflight.path_in(settings.storage.dir)
    for path in (journal, journal.with_suffix(".tail")):
        if path.exists():
            copied.append(_plain_copy(path, folder / path.name))
    (folder / "MANIFEST.txt").write_text("\n".join(_manifest(copied, notes)) + "\n", "utf-8")
    return copied, notes


def _sqlite_copy(source: Path, dest: Path) -> Copied:
    """An online backup of SQLite file `source` (read-only), checked."""
    if not source.exists():
        return Copied(dest.name, 0, f"missing: {source} does not exist")
    with (
        sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30) as src,
        sqlite3.connect(dest) as out,
    ):
        src.backup(out, pages=1024)  # in steps: the daemon's writers wait only between them
        check = out.execute("PRAGMA integrity_check").fetchone()[0]
    src.close()
    out.close()
    return Copied(dest.name, dest.stat().st_size, str(check))


def _plain_copy(source: Path, dest: Path) -> Copied:
    shutil.copy2(source, dest)
    return Copied(dest.name, dest.stat().st_size, "copied as is")


def _manifest(copied: list[Copied], notes: list[str]) -> list[str]:
    lines = [f"{c.name:<28} {c.size:>12} bytes  {c.check}" for c in copied]
    lines += [f"note: {n}" for n in notes]
    lines.append("restore: stop the daemon, copy these files back into storage.dir, start it")
    return lines

"""The file of calls in progress (`<storage.dir>/calls-in-progress.json`), saved and read back.

Written atomically (a temporary file, fsync, rename) every few seconds while it changes and once
more at shutdown, so SIGTERM and even kill -9 leave the events of every call in progress (see
`connector.calls.snapshot`) for the next start to resume. A file that cannot be read is moved
aside (`.bad`) with a log line: the calls in it then come back from Asterisk's channels only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from connector import logs
from connector.calls.snapshot import Entry
from connector.errors import StorageError

log = logs.get_logger(__name__)

FILE_NAME = "calls-in-progress.json"
VERSION = 1


def path_in(storage_dir: Path) -> Path:
    """Where the file lives under `storage.dir`."""
    return storage_dir / FILE_NAME


def save(path: Path, entries: list[Entry]) -> None:
    """Replace the file with `entries` (atomic: a crash leaves the old file or the new one)."""
    body = {"version": VERSION, "saved_at": time.time(), "events": [[at, event] for at, event in entries]}
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as file:
            json.dump(body, file, ensure_ascii=False, separators=(",", ":"))
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"calls in progress cannot be saved to {path}: {exc.strerror}") from exc


def load(path: Path) -> list[Entry]:
    """The saved entries; [] when there is no file, or it is damaged (then moved aside)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError("not a calls-in-progress file of this version")
        return [_entry(item) for item in data["events"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        aside = path.with_name(path.name + ".bad")
        log.error("inflight.unreadable", path=str(path), error=str(exc), moved_to=str(aside))
        try:
            path.replace(aside)
        except OSError as move:
            log.error("inflight.cannot_move_aside", error=str(move))
        return []


def _entry(item: Any) -> Entry:
    at, event = item
    if at is not None and not isinstance(at, int | float):
        raise TypeError(f"bad time {at!r}")
    if not isinstance(event, dict) or not all(isinstance(k, str) for k in event):
        raise TypeError("an event must be a mapping")
    clean = {k: v if isinstance(v, list) else str(v) for k, v in event.items()}
    return (None if at is None else float(at), clean)

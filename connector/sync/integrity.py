"""Refuse to work on an outbox that was damaged, swapped or lost while the daemon was down.

SQLite treats an empty or missing file as a new database: an outbox truncated to 0 bytes or
deleted would quietly start afresh, and every journalled call and undelivered job would be gone
with nothing saying so. So each outbox gets an identity (a random id inside the file, v3 of the
schema) and a marker beside it (`outbox.db.id`, written once). At open: marker but no file, or an
empty file → "vanished/truncated"; another id → "a different file"; `quick_check` problems →
"corrupted". Each is a `StorageError` that stops start-up (exit 3) with what to do. While running,
`watch` notices the file being removed, replaced or truncated, for /healthz.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from connector.errors import StorageError

MARKER_SUFFIX = ".id"
WHAT_TO_DO = (
    "restore it from a backup, or, to start with an empty outbox on purpose, move the file and"
    " its marker {marker} aside"
)


def marker_path(db: Path) -> Path:
    """Where the identity marker of outbox file `db` lives."""
    return db.with_name(db.name + MARKER_SUFFIX)


def before_open(db: Path) -> str | None:
    """Check the place and the marker before SQLite touches `db`; the id the marker expects."""
    folder = db.parent
    if folder.exists() and not folder.is_dir():
        raise StorageError(f"storage directory {folder} is a file, not a directory (storage.dir)")
    if db.exists() and not db.is_file():
        raise StorageError(f"outbox database {db} is not a regular file")
    expected = _read_marker(db)
    if expected is None:
        return None
    hint = WHAT_TO_DO.format(marker=marker_path(db))
    if not db.exists():
        raise StorageError(f"outbox database {db} has vanished (its marker says it existed): {hint}")
    if db.stat().st_size == 0:
        raise StorageError(f"outbox database {db} was truncated to 0 bytes: {hint}")
    return expected


def after_open(db: Path, expected: str | None, found: str, problems: list[str]) -> None:
    """With the file open: its `quick_check` result and its id against the marker's."""
    hint = WHAT_TO_DO.format(marker=marker_path(db))
    if problems:
        raise StorageError(f"outbox database {db} is corrupted ({'; '.join(problems[:3])}): {hint}")
    if expected is not None and expected != found:
        raise StorageError(f"outbox database {db} is not the file this connector was using: {hint}")
    if expected is None:
        _write_marker(db, found)


def _read_marker(db: Path) -> str | None:
    path = marker_path(db)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"outbox marker {path} cannot be read ({exc}); move it aside to go on") from exc
    if not isinstance(data, dict) or not isinstance(data.get("instance"), str):
        raise StorageError(f"outbox marker {path} is not a marker; move it aside to go on")
    return str(data["instance"])


def _write_marker(db: Path, instance: str) -> None:
    path = marker_path(db)
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps({"instance": instance, "created": time.time(), "file": db.name})
    try:
        with tmp.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise StorageError(f"outbox marker {path} cannot be written: {exc.strerror}") from exc


@dataclass(slots=True)
class Watch:
    """The outbox file as it was opened, to notice it being removed or replaced under us."""

    path: Path
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> Watch:
        """Remember the file at `path` as it is now."""
        st = path.stat()
        return cls(path, st.st_ino, st.st_dev)

    def damage(self) -> str | None:
        """What happened to the file since it was opened, or None when it is still ours."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return f"the outbox file {self.path} was removed while the daemon runs"
        except OSError as exc:
            return f"the outbox file {self.path} cannot be checked: {exc.strerror}"
        if (st.st_ino, st.st_dev) != (self.inode, self.device):
            return f"the outbox file {self.path} was replaced while the daemon runs"
        if st.st_size == 0:
            return f"the outbox file {self.path} was truncated to 0 bytes while the daemon runs"
        return None

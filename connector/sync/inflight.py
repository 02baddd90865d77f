"""The file of calls in progress (`<storage.dir>/calls-in-progress.json`), saved and read back.

Two parts, a checkpoint and a tail:
- the checkpoint (`.json`) is written atomically (a temporary file, fsync, rename) every few
  seconds while it changes and once more at shutdown, with the events of every call in progress
  (see `connector.calls.snapshot`) and `upto`, the last tail number it covers;
- the tail (`.tail`, `Tail`) gets every kept event *as it arrives*, one JSON line
  `[n, at, event]` written with one `write()` from the AMI reader's path, before the event can
  have any visible effect. A kill -9 loses nothing the kernel has (the page cache survives the
  process), so a call whose first events came a moment before the kill is still resumed: the
  periodic checkpoint alone lost every call killed in its first 2 s (issue 17's chaos bench,
  18 of 20). The tail is not fsynced per event (that would cost a disk flush per AMI event);
  after a power loss the fsynced checkpoint (≤ 2 s old) and CDR recovery remain.
After each checkpoint the tail keeps only the lines past `upto`. Reading back replays the
checkpoint, then the tail's lines past `upto`, so an event is never replayed twice. A checkpoint
that cannot be read is moved aside (`.bad`) with a log line; a torn tail line is skipped.
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
TAIL_PENDING = 200_000  # tail lines kept between checkpoints at most (then appends pause, logged)


def path_in(storage_dir: Path) -> Path:
    """Where the file lives under `storage.dir`."""
    return storage_dir / FILE_NAME


def tail_path(path: Path) -> Path:
    """The tail next to the checkpoint `path`."""
    return path.with_suffix(".tail")


def save(path: Path, entries: list[Entry], upto: int = 0) -> None:
    """Replace the file with `entries`, which cover the tail up to line `upto` (atomic: a crash
    leaves the old file or the new one)."""
    body = {
        "version": VERSION,
        "saved_at": time.time(),
        "upto": upto,
        "events": [[at, event] for at, event in entries],
    }
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
    """The saved entries (checkpoint, then the tail past it)."""
    return load_with_mark(path)[0]


def load_with_mark(path: Path) -> tuple[list[Entry], int]:
    """The saved entries and the last tail number on disk (a new `Tail` counts on from it)."""
    entries, upto = _checkpoint(path)
    mark = upto
    for number, entry in _tail_lines(tail_path(path)):
        if number > upto:
            entries.append(entry)
        mark = max(mark, number)
    return entries, mark


def _checkpoint(path: Path) -> tuple[list[Entry], int]:
    """The checkpoint's entries and `upto`; ([], 0) when there is none, or it is damaged."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError("not a calls-in-progress file of this version")
        upto = data.get("upto", 0)
        if not isinstance(upto, int):
            raise TypeError(f"bad upto {upto!r}")
        return [_entry(item) for item in data["events"]], upto
    except FileNotFoundError:
        return [], 0
    except (OSError, ValueError, KeyError, TypeError) as exc:
        aside = path.with_name(path.name + ".bad")
        log.error("inflight.unreadable", path=str(path), error=str(exc), moved_to=str(aside))
        try:
            path.replace(aside)
        except OSError as move:
            log.error("inflight.cannot_move_aside", error=str(move))
        return [], 0


def _tail_lines(path: Path) -> list[tuple[int, Entry]]:
    """The tail's lines as (number, entry); a torn or damaged line is skipped with a log line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.error("inflight.tail_unreadable", path=str(path), error=str(exc))
        return []
    lines: list[tuple[int, Entry]] = []
    for line in raw.splitlines():
        try:
            number, at, event = json.loads(line)
            if not isinstance(number, int):
                raise TypeError(f"bad line number {number!r}")
            lines.append((number, _entry([at, event])))
        except (ValueError, TypeError) as exc:
            log.warning("inflight.tail_line_skipped", path=str(path), error=str(exc))
    return lines


class Tail:
    """The append-only tail of the journal: each kept event written at once (see the module).

    `append` runs in the AMI reader's path: one `os.write` of one line, no fsync, never raises
    (a failing disk is logged once; the checkpoints go on). `trim(upto)`, called on the event
    loop right after a checkpoint that covers line `upto` was saved, rewrites the tail with the
    later lines only (a temporary file renamed over it, so a kill leaves one or the other).
    """

    def __init__(self, path: Path, start: int = 0) -> None:
        self.path = path
        self.mark = start  # the number of the last line appended
        self.failed = 0  # appends that could not be written
        self._pending: list[tuple[int, bytes]] = []  # lines past the last checkpoint, in order
        self._fd: int | None = None

    def open(self) -> None:
        """Open for appending (the existing lines stay until the first `trim`)."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, entry: Entry) -> None:
        """Write one event's line now (kill -9 safe once this returns)."""
        if self._fd is None or len(self._pending) >= TAIL_PENDING:
            self._fail("tail closed or full until the next checkpoint")
            return
        at, event = entry
        number = self.mark + 1
        line = json.dumps([number, at, event], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        try:
            os.write(self._fd, line)
        except OSError as exc:
            self._fail(exc.strerror or str(exc))
            return
        self.mark = number
        self._pending.append((number, line))

    def trim(self, upto: int) -> None:
        """Keep only the lines past `upto` (a checkpoint covering up to `upto` is saved)."""
        self._pending = [(n, line) for n, line in self._pending if n > upto]
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with tmp.open("wb") as file:
                file.writelines(line for _, line in self._pending)
            tmp.replace(self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("inflight.tail_not_trimmed", error=exc.strerror or str(exc))
            return
        self.close()
        self.open()

    def close(self) -> None:
        """Close the file (its lines stay for the next start)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _fail(self, why: str) -> None:
        if not self.failed:
            log.error("inflight.tail_not_written", path=str(self.path), error=why)
        self.failed += 1


def _entry(item: Any) -> Entry:
    at, event = item
    if at is not None and not isinstance(at, int | float):
        raise TypeError(f"bad time {at!r}")
    if not isinstance(event, dict) or not all(isinstance(k, str) for k in event):
        raise TypeError("an event must be a mapping")
    clean = {k: v if isinstance(v, list) else str(v) for k, v in event.items()}
    return (None if at is None else float(at), clean)

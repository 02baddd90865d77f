"""Reading AMI event captures: the capture object, a JSON array, JSON lines, or raw AMI text.

Every reader is tolerant: a damaged message or line is skipped with a warning naming where it
was, a truncated JSON file yields the events before the cut, and only a file that cannot be read
at all raises `CaptureError`. An event is a dict of header → value; a header repeated within one
message (e.g. `ChanVariable`) holds a list of its values in order.

Formats (`--format` of `crm-connector replay`):
- `json`: the capture object of docs/capture-format.md (`{"events": [...], "truth": ...}`) or a
  bare JSON array of event objects;
- `jsonl`: one event object per line;
- `ami`: the manager protocol as sent on the wire, `Key: Value` lines and a blank line after each
  message; messages without an `Event` header (action responses, the banner) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.errors import CaptureError

AmiEvent = dict[str, str | list[str]]
Warn = Callable[[str], None]
FORMATS = ("auto", "json", "jsonl", "ami")


@dataclass(slots=True)
class Capture:
    """What a capture file held: its events and, for recorded scenarios, numbering and truth."""

    events: list[AmiEvent]
    scenario: str | None = None
    numbering: dict[str, Any] | None = None
    truth: list[dict[str, Any]] | None = None
    warnings: list[str] = field(default_factory=list)


def read_capture(path: str | Path, fmt: str = "auto") -> Capture:
    """Read the capture at `path` in format `fmt` (see the module docstring)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CaptureError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_capture(raw.decode("utf-8", errors="replace"), fmt)


def parse_capture(text: str, fmt: str = "auto") -> Capture:
    """Parse capture `text` in format `fmt`; damaged parts become warnings, not errors."""
    if fmt not in FORMATS:
        raise CaptureError(f"unknown capture format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = detect_format(text)
    warnings: list[str] = []
    if fmt == "ami":
        return Capture(list(iter_ami_text(text.splitlines(), warnings.append)), warnings=warnings)
    if fmt == "jsonl":
        return Capture(list(iter_json_lines(text.splitlines(), warnings.append)), warnings=warnings)
    return _parse_json(text, warnings)


def detect_format(text: str) -> str:
    """Guess the format: `[` or a `{` document is json, `{` per line is jsonl, else ami."""
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head != "{":
        return "ami"
    first = text.lstrip().split("\n", 1)[0]
    try:
        obj = json.loads(first)
    except ValueError:
        return "json"
    return "jsonl" if isinstance(obj, dict) and "Event" in obj else "json"


def _parse_json(text: str, warnings: list[str]) -> Capture:
    try:
        data = json.loads(text)
    except ValueError as exc:
        warnings.append(f"the JSON capture is damaged or truncated ({exc}); reading the events before it")
        return Capture(_salvage_events(text, warnings), warnings=warnings)
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        truth = data.get("truth")
        return Capture(
            _checked(data["events"], warnings),
            scenario=data.get("scenario"),
            numbering=data.get("numbering"),
            truth=truth.get("calls") if isinstance(truth, dict) else None,
            warnings=warnings,
        )
    if isinstance(data, list):
        return Capture(_checked(data, warnings), warnings=warnings)
    if isinstance(data, dict) and "Event" in data:
        return Capture(_checked([data], warnings), warnings=warnings)
    raise CaptureError("the JSON holds neither a capture object, an array of events nor an event")


def _checked(items: Iterable[Any], warnings: list[str]) -> list[AmiEvent]:
    events: list[AmiEvent] = []
    for index, item in enumerate(items):
        event = as_event(item)
        if event is None:
            warnings.append(f"event #{index} is not an AMI event object; skipped")
        else:
            events.append(event)
    return events


def as_event(item: Any) -> AmiEvent | None:
    """`item` as an event (string headers, string or list values), or None if it is not one."""
    if not isinstance(item, dict) or not isinstance(item.get("Event"), str):
        return None
    event: AmiEvent = {}
    for key, value in item.items():
        if isinstance(value, list):
            event[str(key)] = [str(v) for v in value]
        elif value is not None:
            event[str(key)] = str(value)
    return event


def _salvage_events(text: str, warnings: list[str]) -> list[AmiEvent]:
    """The complete event objects before the damage in a truncated JSON array or capture."""
    start = text.find('"events"')
    start = text.find("[", start if start >= 0 else 0)
    if start < 0:
        raise CaptureError("no events found in the JSON capture")
    decoder = json.JSONDecoder()
    events: list[AmiEvent] = []
    pos = start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos < len(text) and text[pos] == "]":
            break
        try:
            item, pos = decoder.raw_decode(text, pos)
        except ValueError:
            warnings.append(f"capture cut at character {pos}; read {len(events)} events before it")
            break
        event = as_event(item)
        if event is not None:
            events.append(event)
    return events


def iter_json_lines(lines: Iterable[str], warn: Warn) -> Iterator[AmiEvent]:
    """Events from JSON lines; a bad line is reported through `warn` with its number and skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = as_event(json.loads(line))
        except ValueError:
            event = None
        if event is None:
            warn(f"line {number}: not a JSON event object; skipped")
            continue
        yield event


def iter_ami_text(lines: Iterable[str], warn: Warn) -> Iterator[AmiEvent]:
    """Events from raw AMI protocol lines; garbage lines are reported through `warn` and skipped."""
    message: AmiEvent = {}
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if "Event" in message:
                yield message
            message = {}
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            if not line.startswith("Asterisk Call Manager"):
                warn(f"line {number}: not a 'Key: Value' header; skipped")
            continue
        old = message.get(key)
        if old is None:
            message[key] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            message[key] = [old, value]
    if "Event" in message:
        yield message


def format_ami(event: AmiEvent) -> str:
    """One event as AMI protocol text (repeated headers on their own lines), ending in a blank line."""
    parts: list[str] = []
    for key, value in event.items():
        if isinstance(value, list):
            parts.extend(f"{key}: {v}\r\n" for v in value)
        else:
            parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts)

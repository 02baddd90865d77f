"""Logging through structlog: readable on a terminal, JSON lines under systemd or when asked.

Context (conversation id, adapter) is bound with `structlog.contextvars` so one grep finds a
call's whole story. Secrets are scrubbed twice: keys that look secret are masked, and any known
secret value (from the config) is replaced wherever it appears in a line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import typing
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = ("secret", "password", "token", "authorization", "auth", "refresh", "code", "cookie")
_MASK = "***"


class SecretScrubber:
    """A structlog processor that masks secret-looking keys and known secret values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if key != "event" and any(mark in key.lower() for mark in _SECRET_KEYS) and value:
                event[key] = _MASK
            elif isinstance(value, str) and self.secrets:
                event[key] = self._scrub(value)
        return event

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text


class _Stderr:
    """Standard error as found at each write; a failing write is dropped, never raised.

    A log line must not take the daemon down: a closed or broken stderr (journald restarting,
    a replaced stream) would otherwise raise inside whichever task logged, such as the AMI reader.
    """

    def write(self, text: str) -> None:
        """Write `text` to the current sys.stderr, ignoring a closed or broken stream."""
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(text)

    def flush(self) -> None:
        """Flush the current sys.stderr, ignoring a closed or broken stream."""
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()


def wants_json(fmt: str) -> bool:
    """JSON for journald/pipes, console for a terminal, unless forced."""
    if fmt in ("json", "console"):
        return fmt == "json"
    return bool(os.environ.get("JOURNAL_STREAM")) or not sys.stderr.isatty()


def configure(level: str = "info", fmt: str = "auto", secrets: Iterable[str] = ()) -> None:
    """Set up structlog (and the stdlib logging of libraries) once at start-up."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if wants_json(fmt)
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        SecretScrubber(secrets),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=typing.cast(typing.TextIO, _Stderr())),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)


def get_logger(name: str) -> Any:
    """A structlog logger named for its module."""
    return structlog.get_logger(name)

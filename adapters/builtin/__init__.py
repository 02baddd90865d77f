"""The built-in lightweight CRM: the embedded default (SQLite store, REST API, web pages)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.base import Adapter, AdapterContext


@dataclass(frozen=True, slots=True)
class Settings:
    """Options of the built-in CRM."""

    enabled: bool = True
    db_path: Path | None = None  # default: <storage.dir>/builtin.db


def create(settings: Settings, context: AdapterContext) -> Adapter:
    """The built-in CRM adapter."""
    raise NotImplementedError("the built-in CRM adapter is built by its own issue")

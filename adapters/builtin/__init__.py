"""The built-in lightweight CRM: the embedded default (SQLite store, REST API, web pages).

`create` gives the adapter the outbox delivers to. The service also mounts the CRM's REST API
and pages with `adapters.builtin.routes.setup(app, adapter.store, ...)`, sharing the adapter's
`Store`, which the adapter opens in `start()`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.builtin.sms_settings import SmsSettings
from connector.crm import Adapter, AdapterContext
from connector.settings_schema import Secret

if TYPE_CHECKING:
    from adapters.builtin.db import PostgresTarget


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A deal pipeline: a name and up to eight stages."""

    name: str
    stages: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.stages) <= 8:
            raise ValueError(f"pipeline {self.name!r} needs 1 to 8 stages, has {len(self.stages)}")


@dataclass(frozen=True, slots=True)
class Settings:
    """Options of the built-in CRM."""

    enabled: bool = True
    db_path: Path | None = None  # default: <storage.dir>/builtin.db
    pipelines: tuple[Pipeline, ...] = field(
        default_factory=lambda: (
            Pipeline("Продажи", ("Новая", "Квалификация", "Предложение", "Согласование", "Счёт", "Оплата")),
        )
    )
    page_size: int = 50  # calls / clients per page unless the request asks otherwise (max 200)
    sms: SmsSettings = field(default_factory=SmsSettings)  # SMS and mailings through SMSC.ru
    # PostgreSQL instead of the SQLite file: postgresql://user@host:5432/crm (docs/scaling.md);
    # the password apart, from ${ENV} or ${file:...}, never in the URL.
    database: str | None = None
    database_password: Secret | None = None
    database_pool: int = 4  # reader connections to PostgreSQL (writes take one more)

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 200:
            raise ValueError("page_size must be between 1 and 200")
        if self.database is not None:
            self.postgres()  # a bad URL is a configuration error at load time, not at start

    def postgres(self, storage_dir: Path | None = None) -> PostgresTarget | None:
        """The PostgreSQL database configured, or None for the SQLite file."""
        from adapters.builtin.db import PostgresTarget

        if not self.database:
            return None
        return PostgresTarget(self.database, self.database_password, self.database_pool, storage_dir)

    def target(self, storage_dir: Path) -> Path | PostgresTarget:
        """Where the store lives: the PostgreSQL database if configured, else the SQLite file."""
        return self.postgres(storage_dir) or self.path(storage_dir)

    def pipeline_map(self) -> dict[str, tuple[str, ...]]:
        """The pipelines as name → stages."""
        return {p.name: p.stages for p in self.pipelines}

    def path(self, storage_dir: Path) -> Path:
        """Where the database lives."""
        return self.db_path or storage_dir / "builtin.db"


def with_storage(settings: Settings, storage_dir: Path) -> Settings:
    """`settings` with the database path resolved under the connector's state directory."""
    return dataclasses.replace(settings, db_path=settings.path(storage_dir))


def create(settings: Settings, context: AdapterContext) -> Adapter:
    """The built-in CRM adapter; its store is opened by `start()` and closed by `aclose()`.

    Call `with_storage` first so the database lands under `storage.dir`; the routes share the
    adapter's `store` (`adapters.builtin.routes.setup(app, adapter.store, ...)`).
    """
    from adapters.builtin.adapter import BuiltinAdapter
    from adapters.builtin.store import shared_store
    from connector.config import StorageSettings

    store = shared_store(settings.target(StorageSettings().dir), settings.pipeline_map())
    return BuiltinAdapter(context, store, sms=settings.sms)

"""The built-in CRM's store: one database (a SQLite file or PostgreSQL), one object per family of records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from adapters.builtin import offices, rollups
from adapters.builtin.accounts import Accounts, AuditLog, ensure_schema
from adapters.builtin.activity import Deals, Notes
from adapters.builtin.callstore import Calls
from adapters.builtin.changes import Changes
from adapters.builtin.custom_fields import CustomFields
from adapters.builtin.custom_fields import ensure_schema as ensure_custom_schema
from adapters.builtin.db import Target, open_database
from adapters.builtin.dialer_store import ensure_schema as ensure_dialer_schema
from adapters.builtin.mail_store import Mail
from adapters.builtin.mail_store import ensure_schema as ensure_mail_schema
from adapters.builtin.people import Clients, Companies, Employees
from adapters.builtin.pipelines import Pipelines
from adapters.builtin.sms_store import SmsStore
from adapters.builtin.sms_store import ensure_schema as ensure_sms_schema

DEFAULT_PIPELINES: dict[str, tuple[str, ...]] = {
    "Продажи": ("Новая", "Квалификация", "Предложение", "Согласование", "Счёт", "Оплата"),
}


class Store:
    """Employees, clients, companies, calls, notes and deals of the built-in CRM."""

    def __init__(self, target: Target, pipelines: Mapping[str, Sequence[str]] | None = None) -> None:
        self.db = open_database(target)
        self.changes = Changes()  # "this was written", for the pages kept live
        self.pipelines = pipelines or DEFAULT_PIPELINES
        self.employees = Employees(self.db)
        self.clients = Clients(self.db)
        self.companies = Companies(self.db)
        self.calls = Calls(self.db, self.clients, self.changes)
        self.notes = Notes(self.db)
        self.deals = Deals(self.db)
        self.pipeline_settings = Pipelines(self.db, self.deals)  # editing pipelines and their stages
        self.accounts = Accounts(self.db)
        self.audit = AuditLog(self.db)
        self.sms = SmsStore(self.db)
        self.mail = Mail(self.db)
        self.custom = CustomFields(self.db)  # fields admins add to the client, company and deal cards

    @classmethod
    async def open(cls, target: Target, pipelines: Mapping[str, Sequence[str]] | None = None) -> Store:
        """Open the store at `target`, creating the schema and the configured pipelines."""
        store = cls(target, pipelines)
        await store.start()
        return store

    async def start(self) -> None:
        """Open the database (idempotent) and create missing pipelines."""
        if self.db.is_open:
            return
        await self.db.open()
        await ensure_schema(self.db)
        await rollups.ensure_schema(self.db)
        await ensure_sms_schema(self.db)
        await ensure_mail_schema(self.db)
        await offices.ensure_schema(self.db)
        await ensure_dialer_schema(self.db)
        await ensure_custom_schema(self.db)
        await self.deals.ensure_pipelines(self.pipelines)

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()
        if _SHARED.get(self.db.key) is self:
            del _SHARED[self.db.key]


_SHARED: dict[str, Store] = {}


def _key(target: Target) -> str:
    return str(target.expanduser().absolute()) if isinstance(target, Path) else target.url


def shared_store(target: Target, pipelines: Mapping[str, Sequence[str]] | None = None) -> Store:
    """The one `Store` object of the database at `target` in this process (made on first use).

    The adapter (built by the outbox wiring) and the HTTP routes (mounted before the adapters
    start) thus share one connection without either having to hand it to the other.
    """
    key = _key(target)
    if key not in _SHARED:
        _SHARED[key] = Store(target, pipelines)
    return _SHARED[key]

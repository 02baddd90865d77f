"""A local copy of the account's phone numbers, so a lookup costs no request.

amoCRM's `query` search is textual: one caller may need three spellings × (contacts, companies)
= 6 GETs out of the 7 per second the whole integration gets, and a number stored as
"+7 (916) 123-45-67" is found by none of them. Instead the contacts and companies are read page by
page (250 each, oldest change first) and indexed by the national significant number (the last 10
digits), then kept in step by `filter[updated_at][from]`: one GET per kind every
`refresh_seconds`, usually answered 204. The first load is spread over lookups (`pages_per_pass`
pages of each kind at a time); until it is complete the textual search still answers.

Deletions change no updated_at that a listing shows, so once loaded each pass also reads the
account's events since the last pass (GET /api/v4/events, type contact_deleted/company_deleted,
100 a page) and drops those entries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.amocrm.contacts import embedded, phone_values
from connector.calls.phones import last_digits

if TYPE_CHECKING:
    from adapters.amocrm.client import AmoClient

PAGE = 250
EVENTS_PAGE = 100  # the events list's maximum
DELETED = {"contact_deleted": "contacts", "company_deleted": "companies"}
MAX_ENTITIES = 500_000  # bounded: beyond this the textual search answers again


@dataclass
class _Progress:
    """Where the reading of one kind stands."""

    since: int = 0  # updated_at the current pass reads from
    page: int = 1  # next page of the current pass
    newest: int = 0  # highest updated_at seen in the current pass
    loaded: bool = False  # the first full pass is done


@dataclass
class PhoneBook:
    """Numbers → contacts/companies of one account."""

    client: AmoClient
    kinds: tuple[str, ...]
    refresh_seconds: float = 10.0
    pages_per_pass: int = 4
    clock: Callable[[], float] = time.monotonic
    _items: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _by_number: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    _progress: dict[str, _Progress] = field(default_factory=dict)
    _next: float = 0.0
    _events_since: int = 0  # created_at the next read of deletions starts from
    overflow: bool = False

    @property
    def complete(self) -> bool:
        """Whether every kind has been read once (and the book is not over its bound)."""
        return not self.overflow and all(self._progress.get(k, _Progress()).loaded for k in self.kinds)

    def find(self, phone: str) -> tuple[str, dict[str, Any]] | None:
        """The contact (before a company) with this number: (kind, item as amoCRM lists it)."""
        keys = self._by_number.get(last_digits(phone), set())
        for kind in self.kinds:
            ids = sorted(i for k, i in keys if k == kind)
            if ids:
                return kind, self._items[(kind, ids[0])]
        return None

    def stale(self) -> None:
        """Read changes at the next lookup (something was just created, or its answer was lost)."""
        self._next = 0.0

    async def refresh(self, *, force: bool = False) -> None:
        """Read what changed since the last pass (or the next pages of the first load)."""
        if not force and self.clock() < self._next:
            return
        self._next = self.clock() + self.refresh_seconds
        started = int(time.time())
        for kind in self.kinds:
            await self._pass(kind)
        if self._events_since:
            await self._deletions()
        self._events_since = started  # deletions before the first listing need no reading

    async def _pass(self, kind: str) -> None:
        progress = self._progress.setdefault(kind, _Progress())
        for _ in range(self.pages_per_pass):
            params = {
                "filter[updated_at][from]": str(progress.since),
                "order[updated_at]": "asc",
                "with": "leads",
                "limit": str(PAGE),
                "page": str(progress.page),
            }
            items = embedded(await self.client.get(f"/api/v4/{kind}", params), kind)
            for item in items:
                self._put(kind, item)
                progress.newest = max(progress.newest, int(item.get("updated_at") or 0))
            if len(items) < PAGE:
                # this pass is done: the next starts at the newest change seen (re-reading it is harmless)
                progress.since, progress.page, progress.loaded = max(progress.since, progress.newest), 1, True
                return
            progress.page += 1

    async def _deletions(self) -> None:
        types = ",".join(t for t, kind in DELETED.items() if kind in self.kinds)
        for page in range(1, self.pages_per_pass + 1):
            params = {
                "filter[type]": types,
                "filter[created_at][from]": str(self._events_since),
                "limit": str(EVENTS_PAGE),
                "page": str(page),
            }
            events = embedded(await self.client.get("/api/v4/events", params), "events")
            for event in events:
                kind = DELETED.get(str(event.get("type")))
                if kind is not None and event.get("entity_id") is not None:
                    self._drop((kind, int(event["entity_id"])))
            if len(events) < EVENTS_PAGE:
                return

    def _drop(self, key: tuple[str, int]) -> None:
        old = self._items.pop(key, None)
        for value in phone_values(old or {}):
            self._by_number.get(last_digits(value), set()).discard(key)

    def _put(self, kind: str, item: dict[str, Any]) -> None:
        if "id" not in item:
            return
        key = (kind, int(item["id"]))
        old = self._items.get(key)
        if old is None and len(self._items) >= MAX_ENTITIES:
            self.overflow = True
            return
        for value in phone_values(old or {}):
            self._by_number.get(last_digits(value), set()).discard(key)
        self._items[key] = item
        for value in phone_values(item):
            if last_digits(value):
                self._by_number.setdefault(last_digits(value), set()).add(key)

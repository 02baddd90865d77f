"""A local copy of the account's phone numbers, so a lookup costs no request.

amoCRM's `query` search is textual: one caller may need three spellings × (contacts, companies)
= 6 GETs out of the 7 per second the whole integration gets, and a number stored as
"+7 (916) 123-45-67" is found by none of them. Instead the contacts and companies are read page by
page (250 each, oldest change first) and indexed by the national significant number (the last 10
digits), then kept in step by `filter[updated_at][from]`: one GET per kind every
`refresh_seconds`, usually answered 204. The first load is spread over lookups (`pages_per_pass`
pages of each kind at a time); until it is complete the textual search still answers.

What it cannot see: deletions (a deleted contact stays until the daemon restarts; a call filed on
it is refused with "Entity not found" and the adapter creates a contact, as for any unknown number).
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
        for kind in self.kinds:
            await self._pass(kind)

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

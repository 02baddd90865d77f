"""Finding amoCRM contacts (then companies) by phone number, and creating contacts.

amoCRM's `query` search is textual: +79161234567, 79161234567 and 89161234567 are different
strings, and a hit may merely contain the digits. So we try the usual spellings in turn and
accept only a contact with a PHONE value whose last 10 digits are the caller's. Answers (hits
and misses) are cached briefly: one call asks several times (unsorted, log, routing).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.amocrm.client import AmoClient
from adapters.amocrm.errors import ADAPTER
from adapters.amocrm.users import UserMap
from connector.calls.phones import digits, last_digits
from connector.crm import Contact
from connector.errors import PermanentError

if TYPE_CHECKING:
    from adapters.amocrm.phonebook import PhoneBook


def spellings(phone: str, country: str = "7", trunk: str = "8") -> list[str]:
    """The textual forms a number may be stored in: +7XXXXXXXXXX, 7XXXXXXXXXX, 8XXXXXXXXXX."""
    number = digits(phone)
    found = [f"+{number}", number]
    national = number[len(country) :] if number.startswith(country) and len(number) == 11 else ""
    if national:
        found.append(trunk + national)
    return list(dict.fromkeys(found))


def phone_values(contact: dict[str, Any]) -> list[str]:
    """The PHONE values of an amoCRM contact (its custom_fields_values may be null)."""
    values: list[str] = []
    for fld in contact.get("custom_fields_values") or []:
        if isinstance(fld, dict) and fld.get("field_code") == "PHONE":
            values.extend(str(v.get("value", "")) for v in fld.get("values") or [] if isinstance(v, dict))
    return values


CACHE_SIZE = 10_000  # caller numbers remembered at most (a few MB)


class ContactDirectory:
    """Looks contacts up by phone (cached for `ttl` seconds) and creates them."""

    def __init__(
        self,
        client: AmoClient,
        users: UserMap,
        *,
        ttl: float,
        base_url: str,
        companies: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._kinds = ("contacts", "companies") if companies else ("contacts",)
        self._users = users
        self._ttl = ttl
        self._base_url = base_url
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Contact | None]] = OrderedDict()
        self.phonebook: PhoneBook | None = None  # set by the adapter when `phone_book` is on

    async def find(self, phone: str) -> Contact | None:
        """The contact with this number, or None."""
        key = last_digits(phone)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        found = await self._search(phone, key)
        self._remember(key, found)
        return found

    def forget(self, phone: str) -> None:
        """Drop the cached answer for `phone` (after we created or changed its contact)."""
        self._cache.pop(last_digits(phone), None)
        if self.phonebook is not None:
            self.phonebook.stale()

    async def create(
        self, name: str, phone: str, responsible_user_id: int | None, request_id: str
    ) -> Contact:
        """Create a contact with one WORK phone; the new contact is cached for `phone`."""
        item: dict[str, Any] = {
            "name": name,
            "request_id": request_id,
            "custom_fields_values": [
                {"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]}
            ],
        }
        if responsible_user_id:
            item["responsible_user_id"] = responsible_user_id
        answer = await self._client.post("/api/v4/contacts", [item])
        created = first_embedded(answer, "contacts")
        contact = Contact(
            id=str(created["id"]),
            name=name,
            phones=(phone,),
            responsible_user_id=str(responsible_user_id) if responsible_user_id else None,
            responsible_extension=self._users.extension_of(responsible_user_id),
            url=self._card_url(created["id"]),
        )
        self._remember(last_digits(phone), contact)
        return contact

    def remember_created(self, contact_id: int, name: str, phone: str) -> Contact:
        """Cache a contact amoCRM created on its own (with an unsorted entry)."""
        contact = Contact(id=str(contact_id), name=name, phones=(phone,), url=self._card_url(contact_id))
        self._remember(last_digits(phone), contact)
        return contact

    async def _search(self, phone: str, key: str) -> Contact | None:
        if self.phonebook is not None:
            await self.phonebook.refresh()
            if self.phonebook.complete:
                hit = self.phonebook.find(phone)
                return self._contact(hit[1], hit[0]) if hit is not None else None
        # contacts first: a person's own card beats the company they work for
        for kind in self._kinds:
            for text in spellings(phone):
                answer = await self._client.get(
                    f"/api/v4/{kind}", {"query": text, "with": "leads", "limit": "50"}
                )
                for item in embedded(answer, kind):
                    if any(last_digits(value) == key for value in phone_values(item)):
                        return self._contact(item, kind)
        return None

    def _contact(self, item: dict[str, Any], kind: str) -> Contact:
        responsible = item.get("responsible_user_id") or None
        leads = [lead["id"] for lead in (item.get("_embedded") or {}).get("leads") or [] if "id" in lead]
        return Contact(
            id=str(item["id"]),
            name=str(item.get("name") or ""),
            phones=tuple(phone_values(item)),
            kind="company" if kind == "companies" else "contact",
            responsible_user_id=str(responsible) if responsible else None,
            responsible_extension=self._users.extension_of(responsible),
            url=self._card_url(item["id"], kind),
            extra={"leads": leads},
        )

    def _card_url(self, entity_id: Any, kind: str = "contacts") -> str:
        return f"{self._base_url}/{kind}/detail/{entity_id}"

    def _remember(self, key: str, contact: Contact | None) -> None:
        # Bounded: one entry per caller number would otherwise grow for as long as the daemon runs.
        self._cache[key] = (self._clock() + self._ttl, contact)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def embedded(answer: Any, name: str) -> list[dict[str, Any]]:
    """The `_embedded.<name>` items of an amoCRM answer (empty when absent)."""
    if not isinstance(answer, dict):
        return []
    items = (answer.get("_embedded") or {}).get(name) or []
    return [i for i in items if isinstance(i, dict)]


def first_embedded(answer: Any, name: str, key: str = "id") -> dict[str, Any]:
    """The first `_embedded.<name>` item, which must carry `key`; else the answer is unusable."""
    items = embedded(answer, name)
    if not items or key not in items[0]:
        raise PermanentError(f"amoCRM created no {name} (unexpected answer)", adapter=ADAPTER)
    return items[0]

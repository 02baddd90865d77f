"""Extension ↔ portal user, read from `user.get` (UF_PHONE_INNER) and overridden in YAML.

The map is refreshed lazily, at most every `users_refresh_seconds`, when someone asks: no
background task to own. If a refresh fails the last good map is kept (logged once) so a portal
hiccup never turns every employee into "the PBX".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.settings import OpenCard, Settings
from connector import logs
from connector.errors import AdapterError

log = logs.get_logger(__name__)


class Directory:
    """Who is who: extension → user id, user id → extension, per-employee card mode."""

    def __init__(
        self,
        client: Bitrix24Client,
        settings: Settings,
        *,
        fallback_user: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._fallback = fallback_user
        self._clock = clock
        self._by_ext: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._stale_logged = False

    async def refresh(self) -> None:
        """Read the active users' inner phones now."""
        users = await self._client.list_all("user.get", {"filter": {"ACTIVE": True}})
        self._by_ext = self._build(users)
        self._loaded_at = self._clock()
        if self._stale_logged:
            log.info("bitrix24.users_recovered", users=len(self._by_ext))
            self._stale_logged = False

    def _build(self, users: list[Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        for user in users:
            if isinstance(user, dict) and user.get("UF_PHONE_INNER") and user.get("ID"):
                found[str(user["UF_PHONE_INNER"]).strip()] = str(user["ID"])
        for employee in self._settings.employees:
            if employee.disabled:
                found.pop(employee.extension, None)
            elif employee.user_id:
                found[employee.extension] = employee.user_id
        return found

    async def ensure_fresh(self) -> None:
        """Refresh when the map is older than the configured period (first use included)."""
        age = None if self._loaded_at is None else self._clock() - self._loaded_at
        if age is not None and age < self._settings.users_refresh_seconds:
            return
        try:
            await self.refresh()
        except AdapterError as exc:
            if self._loaded_at is None:
                raise
            self._loaded_at = self._clock()  # keep the old map; try again after a period
            if not self._stale_logged:
                log.warning("bitrix24.users_refresh_failed", error=str(exc))
                self._stale_logged = True

    def user_for(self, extension: str | None) -> str | None:
        """The portal user of `extension`, or None when it is not mapped (or disabled)."""
        return self._by_ext.get(extension) if extension else None

    def user_or_pbx(self, extension: str | None) -> str:
        """The portal user of `extension`, or the PBX's own user for unmapped extensions."""
        return self.user_for(extension) or self._fallback

    def extension_for(self, user_id: str | int | None) -> str | None:
        """The extension of a portal user, or None."""
        wanted = str(user_id) if user_id is not None else ""
        return next((ext for ext, uid in self._by_ext.items() if uid == wanted), None)

    def open_card(self, extension: str) -> OpenCard:
        """When this employee's card opens: never, on ring, or on answer."""
        employee = self._settings.employee(extension)
        if employee is not None and employee.open_card is not None:
            return employee.open_card
        return self._settings.open_card

"""Extension ↔ amoCRM user map: the account's users (GET /api/v4/users) plus YAML overrides.

amoCRM users carry no extension, so the YAML `users:` map says which user an extension is; a
value may be the user's id, e-mail or exact name, resolved against the account's user list. An
extension nobody maps is not an error: its calls are filed as the PBX (the `source` name).
Reading the user list needs admin rights; without them (403) ids in the YAML are used as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from adapters.amocrm.errors import Forbidden
from connector import logs
from connector.errors import TransientError

if TYPE_CHECKING:
    from adapters.amocrm.client import AmoClient

log = logs.get_logger(__name__)
PAGE = 250


class UserMap:
    """Maps extensions to amoCRM user ids and back; refreshed from the account every so often."""

    def __init__(
        self,
        overrides: Mapping[str, str],
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._overrides = dict(overrides)
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._next_refresh = 0.0
        self._users: list[dict[str, Any]] = []
        self._by_ext: dict[str, int] = _numeric(self._overrides)

    def user_of(self, extension: str | None) -> int | None:
        """The amoCRM user id of `extension`, or None when it is not mapped."""
        return self._by_ext.get(extension) if extension else None

    def extension_of(self, user_id: Any) -> str | None:
        """The extension of amoCRM user `user_id`, or None."""
        for ext, uid in self._by_ext.items():
            if str(uid) == str(user_id):
                return ext
        return None

    def name_of(self, extension: str | None) -> str | None:
        """The amoCRM user's name for `extension`, or None when unmapped."""
        uid = self.user_of(extension)
        return next((str(u.get("name")) for u in self._users if u.get("id") == uid), None)

    async def refresh(self, client: AmoClient, *, force: bool = False) -> None:
        """Read the account's users again when the refresh interval has passed (or `force`)."""
        if not force and self._clock() < self._next_refresh:
            return
        self._next_refresh = self._clock() + self._refresh_seconds
        try:
            self._users = await _all_users(client)
        except Forbidden as exc:
            log.warning(
                "amocrm.users.unreadable", reason=str(exc), note="using adapters.amocrm.users as given"
            )
            return
        except TransientError as exc:
            if force:
                raise
            # a periodic refresh must not fail the lookup that triggered it: keep the old map
            log.warning("amocrm.users.refresh_failed", reason=str(exc))
            return
        self._by_ext = self._resolve()

    def _resolve(self) -> dict[str, int]:
        mapped: dict[str, int] = {}
        for ext, wanted in self._overrides.items():
            user = next(
                (u for u in self._users if wanted in (str(u.get("id")), u.get("email"), u.get("name"))), None
            )
            if user is None:
                log.warning("amocrm.users.unknown", extension=ext, user=wanted)
                continue
            mapped[ext] = int(user["id"])
        return mapped


async def _all_users(client: AmoClient) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    for page in range(1, 41):  # bounded: 40 pages of 250 is more users than any account has
        answer = await client.get("/api/v4/users", {"page": str(page), "limit": str(PAGE)})
        chunk = (answer or {}).get("_embedded", {}).get("users", []) if isinstance(answer, dict) else []
        users.extend(u for u in chunk if isinstance(u, dict) and "id" in u)
        if len(chunk) < PAGE:
            break
    return users


def _numeric(overrides: Mapping[str, str]) -> dict[str, int]:
    return {ext: int(value) for ext, value in overrides.items() if str(value).isdigit()}

"""Who is calling the HTTP API: service tokens from the config, people from the built-in CRM.

A token comes as `Authorization: Bearer <token>` or, for the web pages, in an HttpOnly cookie
set at sign-in. Service tokens are compared in constant time; people's tokens are looked up by
their hash in the CRM store (see `adapters.builtin.people`), so no token is compared as text.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from connector.config import ApiToken

COOKIE = "crm_session"
PEOPLE_ROLES = ("admin", "manager", "employee")

# Looks up a person by token: the built-in CRM plugs its employees in here.
PeopleResolver = Callable[[str], Awaitable["Principal | None"]]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a service token or an employee of the built-in CRM."""

    name: str
    role: str  # admin / manager / employee for people; admin / service for service tokens
    extensions: tuple[str, ...] = ()  # "*" = every extension
    employee_id: int | None = None

    @property
    def is_person(self) -> bool:
        """Whether this is an employee signed in to the CRM (not a service token)."""
        return self.employee_id is not None

    @property
    def sees_all(self) -> bool:
        """Admins and managers see every call and recording; employees only their own."""
        if self.is_person:
            return self.role in ("admin", "manager")
        # A service token acts for phones (call control, webhooks); reading every call and
        # recording takes an admin token.
        return self.role == "admin" and "*" in self.extensions

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The extensions whose calls this caller may see; None means all."""
        return None if self.sees_all else self.extensions

    @property
    def is_admin(self) -> bool:
        """May manage employees and settings."""
        return self.role == "admin"

    @property
    def rate_key(self) -> str:
        """Unique per person or per token, for rate limits (two employees may share a name)."""
        return f"employee:{self.employee_id}" if self.is_person else f"token:{self.name}"

    def may_act_for(self, extension: str) -> bool:
        """Whether this caller may place or control calls for `extension` (toll-fraud guard)."""
        return "*" in self.extensions or extension in self.extensions


class Authenticator:
    """Resolves a request's token to a `Principal`, or None."""

    def __init__(self, tokens: Sequence[ApiToken] = (), people: PeopleResolver | None = None) -> None:
        self._services = [(t.token.get().encode("utf-8"), t) for t in tokens if t.token]
        self.people = people

    def set_people(self, resolver: PeopleResolver | None) -> None:
        """Plug in (or remove) the employees' token lookup of the built-in CRM."""
        self.people = resolver

    async def authenticate(self, request: web.Request) -> Principal | None:
        """The caller of `request`, or None when no valid token came with it."""
        token = token_of(request)
        return await self.resolve(token) if token else None

    async def resolve(self, token: str) -> Principal | None:
        """The principal holding `token`, or None."""
        service = self._service(token)
        if service is not None:
            return service
        if self.people is not None:
            return await self.people(token)
        return None

    def _service(self, token: str) -> Principal | None:
        given = token.encode("utf-8")
        found: ApiToken | None = None
        for secret, entry in self._services:  # check every token so timing tells nothing
            if hmac.compare_digest(secret, given):
                found = entry
        if found is None:
            return None
        return Principal(name=found.name, role=found.role, extensions=found.extensions)


def token_of(request: web.Request) -> str:
    """The token a request carries (Bearer header first, then the sign-in cookie), or ''."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE, "")


async def require(request: web.Request) -> Principal:
    """The caller, or a 401 problem when unauthenticated."""
    from connector.api.app import AUTH_KEY, Problem

    principal = await request.app[AUTH_KEY].authenticate(request)
    if principal is None:
        raise Problem(401, "Unauthorized", "a valid token is required")
    return principal

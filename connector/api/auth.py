"""Who is calling the HTTP API: service tokens from the config, people from the built-in CRM.

Scripts and integrations send `Authorization: Bearer <token>`: service tokens are compared in
constant time, people's tokens are looked up by their hash in the CRM store. Browsers carry a
session id in an HttpOnly cookie set at sign-in with login and password (see
`adapters.builtin.routes_accounts`); the session resolver plugged in here turns it into a person.

A cookie is sent by the browser whatever page caused the request, so every state change made
with one must also carry the session's CSRF token in `X-CSRF-Token` (the page got it at sign-in)
and, when the browser names it, come from this daemon's own origin. `require` checks both, so
no route can forget to.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from connector.config import ApiToken

COOKIE = "crm_session"
CSRF_HEADER = "X-CSRF-Token"
PEOPLE_ROLES = ("admin", "manager", "employee")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Where a request keeps its resolved caller (a RequestKey where aiohttp has them).
_PRINCIPAL: Any = web.RequestKey("crm_principal", object) if hasattr(web, "RequestKey") else "crm.principal"

# Looks up a person by API token or by session id: the built-in CRM plugs its employees in here.
PeopleResolver = Callable[[str], Awaitable["Principal | None"]]


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: derived from its secret id, so nothing more is stored."""
    return hashlib.sha256(b"csrf\0" + session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a service token or an employee of the built-in CRM."""

    name: str
    role: str  # admin / manager / employee for people; admin / service for service tokens
    extensions: tuple[str, ...] = ()  # "*" = every extension
    employee_id: int | None = None
    session: str | None = None  # a short, non-secret name of the browser session (cookie callers)
    csrf: str | None = None  # the token cookie callers must echo on state changes

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

    @property
    def stream_key(self) -> str:
        """Unique per browser session, else per person or token: what live streams are capped by."""
        return f"session:{self.session}" if self.session else self.rate_key

    def may_act_for(self, extension: str) -> bool:
        """Whether this caller may place or control calls for `extension` (toll-fraud guard)."""
        return "*" in self.extensions or extension in self.extensions


class Authenticator:
    """Resolves a request's token to a `Principal`, or None."""

    def __init__(
        self,
        tokens: Sequence[ApiToken] = (),
        people: PeopleResolver | None = None,
        sessions: PeopleResolver | None = None,
    ) -> None:
        self._services = [(t.token.get().encode("utf-8"), t) for t in tokens if t.token]
        self.people = people
        self.sessions = sessions

    def set_people(self, resolver: PeopleResolver | None, sessions: PeopleResolver | None = None) -> None:
        """Plug in (or remove) the employees' token and session lookups of the built-in CRM."""
        self.people = resolver
        self.sessions = sessions

    async def authenticate(self, request: web.Request) -> Principal | None:
        """The caller of `request` (a Bearer token, else the session cookie), or None."""
        if _PRINCIPAL in request:
            found: Principal | None = request[_PRINCIPAL]
            return found
        token = bearer_of(request)
        if token:
            principal = await self.resolve(token)
        else:
            session_id = request.cookies.get(COOKIE, "")
            principal = await self.sessions(session_id) if session_id and self.sessions else None
        request[_PRINCIPAL] = principal
        return principal

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


def cached_principal(request: web.Request) -> Principal | None:
    """The caller this request was already authenticated as (None if not, or not yet)."""
    found: Principal | None = request.get(_PRINCIPAL)
    return found


def bearer_of(request: web.Request) -> str:
    """The token of the `Authorization: Bearer` header, or ''."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def require(request: web.Request) -> Principal:
    """The caller, or a 401 problem; a cookie caller's state change must also pass the CSRF check."""
    from connector.api.app import AUTH_KEY, Problem

    principal = await request.app[AUTH_KEY].authenticate(request)
    if principal is None:
        raise Problem(401, "Unauthorized", "sign in or send a valid token")
    if principal.session is not None and request.method not in SAFE_METHODS:
        check_csrf(request, principal)
    return principal


def check_csrf(request: web.Request, principal: Principal) -> None:
    """403 unless the request echoes the session's CSRF token and comes from our own origin."""
    from connector.api.app import SETTINGS_KEY, Problem

    sent = request.headers.get(CSRF_HEADER, "")
    if not principal.csrf or not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
        raise Problem(403, "Forbidden", "the CSRF token is missing or wrong: reload the page")
    public_url = request.app[SETTINGS_KEY].public_url if SETTINGS_KEY in request.app else ""
    if not same_origin(request, extra=(public_url,) if public_url else ()):
        raise Problem(403, "Forbidden", "the request comes from another site")


def same_origin(request: web.Request, extra: Iterable[str] = ()) -> bool:
    """Whether the browser's Origin (when it sends one) is this daemon's address or one of `extra`."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser, or a same-origin GET: nothing to compare
    allowed = {_origin_of(url) for url in extra if url}
    allowed.add(f"{request.scheme}://{request.host}".lower())
    forwarded = request.headers.get("X-Forwarded-Proto")  # TLS ended at a reverse proxy
    if forwarded:
        allowed.add(f"{forwarded.split(',')[0].strip()}://{request.host}".lower())
    return origin.lower().rstrip("/") in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

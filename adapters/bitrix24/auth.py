"""The two ways into a portal: an inbound webhook URL, or an OAuth app with expiring tokens.

OAuth: the access token lives an hour, the refresh token 180 days and is replaced at every
refresh, so each new pair is stored durably (in the adapter's `StateStore`) before it is used —
lose it and the app must be reinstalled. Refreshes are single-flight: concurrent requests that
all saw `expired_token` cause one refresh. The first pair comes from the portal itself: installing
the application posts ONAPPINSTALL to the app's handler (`adapters.bitrix24.install`), which calls
`OAuthAuth.install`; a refresh token in the YAML is only a fallback for an app installed by hand.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from adapters.bitrix24.errors import Bitrix24ApiError, parse, to_adapter_error
from connector.crm import StateStore
from connector.errors import AuthError, TransientError

TOKENS_KEY = "bitrix24:oauth"
BASE_KEY = "bitrix24:base_url"
APP_TOKEN_KEY = "bitrix24:application_token"  # auth[application_token] from ONAPPINSTALL


class Auth(Protocol):
    """Where requests go and what proves who we are."""

    can_refresh: bool

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in an error message."""

    async def base_url(self) -> str:
        """The REST root, ending in '/', e.g. https://portal/rest/1/code/."""

    async def token(self) -> str | None:
        """The access token to send as `auth`, or None for webhooks."""

    async def refresh(self, stale: str | None) -> None:
        """Get new tokens unless someone already replaced `stale`."""

    async def moved(self, location: str) -> None:
        """The portal answered 302: follow it from now on."""


def rebase(base: str, location: str) -> str:
    """`base` with the scheme and host of `location` (a portal move keeps the REST path)."""
    old, new = urlsplit(base), urlsplit(location)
    if not new.scheme or not new.netloc:
        raise ValueError("the redirect has no absolute Location")
    return base.replace(f"{old.scheme}://{old.netloc}", f"{new.scheme}://{new.netloc}", 1)


class WebhookAuth:
    """An inbound webhook: the secret code is part of the URL, nothing to refresh."""

    can_refresh = False

    def __init__(self, url: str, state: StateStore) -> None:
        self._url = url.rstrip("/") + "/"
        self._state = state

    async def base_url(self) -> str:
        """The webhook URL, or where the portal moved it to."""
        moved = await self._state.get(BASE_KEY)
        return str(moved) if moved else self._url

    async def token(self) -> str | None:
        """Webhooks carry no token."""
        return None

    async def refresh(self, stale: str | None) -> None:
        """A webhook cannot be refreshed: its code was revoked or is wrong."""
        raise AuthError("the webhook was refused; create a new inbound webhook", adapter="bitrix24")

    async def moved(self, location: str) -> None:
        """Remember the portal's new address durably."""
        await self._state.set(BASE_KEY, rebase(await self.base_url(), location))

    def secrets(self) -> tuple[str, ...]:
        """The webhook's secret code (the path segment after the user id)."""
        parts = urlsplit(self._url).path.strip("/").split("/")
        return (parts[2],) if len(parts) >= 3 and parts[0] == "rest" else (self._url,)

    def user_id(self) -> str:
        """The webhook owner's user id (the `1` in /rest/1/code/)."""
        parts = urlsplit(self._url).path.strip("/").split("/")
        return parts[1] if len(parts) >= 2 and parts[0] == "rest" else ""


class OAuthAuth:
    """An OAuth app: tokens from the state store, refreshed at the Bitrix OAuth server."""

    can_refresh = True

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        state: StateStore,
        portal: str,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float,
        adapter: str,
    ) -> None:
        self._session = session
        self._state = state
        self._portal_rest = portal.rstrip("/") + "/rest/"
        self._oauth_url = oauth_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._initial_refresh = refresh_token
        self._timeout = timeout
        self._adapter = adapter
        self._lock = asyncio.Lock()

    def secrets(self) -> tuple[str, ...]:
        """The app's client secret (tokens are never echoed by the portal)."""
        return (self._client_secret,)

    async def _tokens(self) -> dict[str, Any]:
        stored = await self._state.get(TOKENS_KEY)
        return dict(stored) if isinstance(stored, dict) else {}

    async def base_url(self) -> str:
        """The portal's REST root (the OAuth server's `client_endpoint` when it gave one)."""
        tokens = await self._tokens()
        return str(tokens.get("client_endpoint") or self._portal_rest)

    async def token(self) -> str | None:
        """The current access token, refreshed first when there is none or it is about to expire."""
        tokens = await self._tokens()
        current = tokens.get("access_token")
        # A minute early saves the failed request an expired token would cost every hour.
        if not current or float(tokens.get("expires_at") or 0) < time.time() + 60:
            await self.refresh(str(current) if current else None)
            tokens = await self._tokens()
        return str(tokens["access_token"])

    async def refresh(self, stale: str | None) -> None:
        """Exchange the refresh token for a new pair and store it before anything else."""
        async with self._lock:
            tokens = await self._tokens()
            if tokens.get("access_token") and tokens.get("access_token") != stale:
                return  # another request refreshed while we waited
            refresh_token = str(tokens.get("refresh_token") or self._initial_refresh)
            if not refresh_token:
                raise AuthError(
                    "the application is not installed yet: install it in the portal (its install "
                    "handler is the daemon's install_path) or set refresh_token",
                    adapter=self._adapter,
                )
            fresh = await self._exchange(refresh_token)
            tokens.update(
                access_token=fresh["access_token"],
                refresh_token=fresh["refresh_token"],
                expires_at=time.time() + float(fresh.get("expires_in") or 3600),
            )
            if fresh.get("client_endpoint"):
                tokens["client_endpoint"] = str(fresh["client_endpoint"])
            await self._state.set(TOKENS_KEY, tokens)

    async def _exchange(self, refresh_token: str) -> dict[str, Any]:
        params = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
        }
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            async with self._session.get(self._oauth_url, params=params, timeout=timeout) as resp:
                status, text = resp.status, await resp.text()
        except TimeoutError as exc:
            raise TransientError("oauth refresh: no answer in time", adapter=self._adapter) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"oauth refresh: {type(exc).__name__}", adapter=self._adapter) from exc
        try:
            payload = parse(status, text)
        except Bitrix24ApiError as exc:
            hidden = (self._client_secret, refresh_token)
            raise to_adapter_error(exc, "oauth refresh", self._adapter, hidden) from exc
        if not payload.get("access_token") or not payload.get("refresh_token"):
            raise AuthError("oauth refresh: the answer has no tokens", adapter=self._adapter)
        return payload

    async def install(self, access: str, refresh: str, expires_in: float, client_endpoint: str) -> None:
        """Store the tokens ONAPPINSTALL brought (they replace whatever was stored)."""
        async with self._lock:
            tokens = {
                "access_token": access,
                "refresh_token": refresh,
                "expires_at": time.time() + (expires_in or 3600.0),
            }
            if client_endpoint:
                tokens["client_endpoint"] = client_endpoint
            await self._state.set(TOKENS_KEY, tokens)

    def portal_rest(self) -> str:
        """The configured portal's REST root (an install event must come from this portal)."""
        return self._portal_rest

    async def moved(self, location: str) -> None:
        """Follow the portal to its new address from now on."""
        tokens = await self._tokens()
        tokens["client_endpoint"] = rebase(await self.base_url(), location)
        await self._state.set(TOKENS_KEY, tokens)

"""amoCRM credentials: a long-lived token, or OAuth2 with single-use refresh tokens kept durably.

OAuth: the authorization code from the integration's settings is exchanged once; afterwards
every refresh returns a NEW refresh token and burns the old one, so losing the answer kills the
integration until someone issues a new code. Hence:
- one rotation at a time (a lock; a caller whose rejected token was already replaced just
  retries with the new one instead of spending the refresh token twice);
- the rotation (POST + durable save of access, refresh and expiry as ONE state value) runs in
  its own task shielded from cancellation, so a job cancelled by its timeout or by shutdown
  cannot drop the new tokens between the answer and the save;
- a new `auth_code` in the config (its hash differs from the one used) re-authorises on its
  own: that is the recovery path the AuthError messages point to.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from adapters.amocrm.errors import ADAPTER, parse_body
from adapters.amocrm.settings import AuthSettings
from connector import logs
from connector.crm import StateStore
from connector.errors import AuthError, TransientError
from connector.sync.ratelimit import TokenBucket

log = logs.get_logger(__name__)
STATE_KEY = "oauth_tokens"
EXPIRY_WARNING = 7 * 86400  # warn a week before a long-lived token runs out
ROTATION_KEY = "oauth_rotation"  # present while a refresh is on the wire (diagnoses a crash mid-way)


class Credentials(Protocol):
    """Where the client gets its bearer token and how it reacts to a 401."""

    async def access_token(self) -> str:
        """A token to send now (refreshing or exchanging first when needed)."""

    async def refresh(self, rejected: str) -> bool:
        """amoCRM refused `rejected`: get a new one; False when there is nothing to refresh."""


class LongLivedToken:
    """A private integration's long-lived token (a JWT with `exp`): no refresh exists."""

    def __init__(self, token: str, clock: Callable[[], float] = time.time) -> None:
        self._token = token
        self._clock = clock
        self._expires_at = jwt_expiry(token)
        self._warned = False

    async def access_token(self) -> str:
        """The configured token; an expired one is refused here rather than by amoCRM."""
        if self._expires_at is not None:
            left = self._expires_at - self._clock()
            if left <= 0:
                raise AuthError(
                    "the long-lived amoCRM token has expired: create a new one in the integration's"
                    " settings and put it in adapters.amocrm.auth.long_lived_token",
                    adapter=ADAPTER,
                )
            if left < EXPIRY_WARNING and not self._warned:
                self._warned = True
                log.warning("amocrm.token.expires_soon", days_left=round(left / 86400, 1))
        return self._token

    async def refresh(self, rejected: str) -> bool:
        """Nothing to refresh: a refused long-lived token needs a new one in the config."""
        return False


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (Unix time), or None when the token is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


@dataclass(frozen=True, slots=True)
class _Tokens:
    access: str
    refresh: str
    expires_at: float
    code_hash: str

    def as_state(self) -> dict[str, Any]:
        return {
            "access_token": self.access,
            "refresh_token": self.refresh,
            "expires_at": self.expires_at,
            "code_hash": self.code_hash,
        }

    @staticmethod
    def from_state(value: Any) -> _Tokens | None:
        if not isinstance(value, dict) or not value.get("refresh_token"):
            return None
        return _Tokens(
            str(value.get("access_token", "")),
            str(value["refresh_token"]),
            float(value.get("expires_at", 0)),
            str(value.get("code_hash", "")),
        )


class OAuthTokens:
    """OAuth2 tokens for one amoCRM account, rotated and stored durably in the adapter's state."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        settings: AuthSettings,
        state: StateStore,
        *,
        timeout: float,
        bucket: TokenBucket | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._url = f"{base_url}/oauth2/access_token"
        self._settings = settings
        self._state = state
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._bucket = bucket
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: _Tokens | None = None
        self._rotation: asyncio.Task[_Tokens] | None = None

    async def access_token(self) -> str:
        """A valid access token: exchanged from the code the first time, refreshed near expiry."""
        tokens = self._cached or await self._load()
        if tokens is not None and self._fresh(tokens):
            return tokens.access
        async with self._lock:
            tokens = await self._load()
            if tokens is None or self._new_code(tokens):
                tokens = await self._rotate(self._code_grant())
            elif not self._fresh(tokens):
                tokens = await self._rotate(self._refresh_grant(tokens))
            return tokens.access

    async def refresh(self, rejected: str) -> bool:
        """amoCRM answered 401 to `rejected`: rotate once, unless another caller already did."""
        async with self._lock:
            tokens = await self._load()
            if tokens is None:
                await self._rotate(self._code_grant())
            elif tokens.access == rejected:
                await self._rotate(self._refresh_grant(tokens))
        return True

    async def aclose(self) -> None:
        """Let a rotation in flight finish its save (it is never abandoned half way)."""
        if self._rotation is not None and not self._rotation.done():
            await asyncio.wait([self._rotation])

    # -- internals ------------------------------------------------------------------------

    def _fresh(self, tokens: _Tokens) -> bool:
        return tokens.expires_at - self._settings.refresh_margin_seconds > self._clock()

    def _code_hash(self) -> str:
        code = self._settings.auth_code.get()
        return hashlib.sha256(code.encode()).hexdigest()[:16] if code else ""

    def _new_code(self, tokens: _Tokens) -> bool:
        current = self._code_hash()
        return bool(current) and current != tokens.code_hash

    async def _load(self) -> _Tokens | None:
        self._cached = _Tokens.from_state(await self._state.get(STATE_KEY))
        return self._cached

    def _code_grant(self) -> dict[str, str]:
        code = self._settings.auth_code.get()
        if not code:
            raise AuthError(
                "amoCRM is not authorised yet: put the integration's authorization code in"
                " adapters.amocrm.auth.auth_code (it is used once)",
                adapter=ADAPTER,
            )
        return {"grant_type": "authorization_code", "code": code}

    @staticmethod
    def _refresh_grant(tokens: _Tokens) -> dict[str, str]:
        return {"grant_type": "refresh_token", "refresh_token": tokens.refresh}

    async def _rotate(self, grant: dict[str, str]) -> _Tokens:
        # Shielded: if our caller is cancelled, the task still saves what amoCRM answered.
        if self._rotation is None or self._rotation.done():
            self._rotation = asyncio.get_running_loop().create_task(self._exchange(grant))
        return await asyncio.shield(self._rotation)

    async def _exchange(self, grant: dict[str, str]) -> _Tokens:
        body = {
            "client_id": self._settings.client_id,
            "client_secret": self._settings.client_secret.get(),
            "redirect_uri": self._settings.redirect_uri,
            **grant,
        }
        refreshing = grant["grant_type"] == "refresh_token"
        interrupted = refreshing and await self._state.get(ROTATION_KEY) is not None
        if refreshing:
            await self._state.set(ROTATION_KEY, {"started_at": self._clock()})
        try:
            answer = await self._post(body)
        except AuthError as exc:
            stored = _Tokens.from_state(await self._state.get(STATE_KEY))
            if refreshing and stored is not None and stored.refresh != grant["refresh_token"]:
                self._cached = stored  # another process (e.g. `outbox drain`) rotated first: use its tokens
                return stored
            if interrupted:
                note = " (an earlier refresh was interrupted before its answer was saved)"
                raise AuthError(f"{exc}{note}", adapter=ADAPTER) from exc
            raise
        return await self._save(answer, grant["grant_type"])

    async def _save(self, answer: dict[str, Any], grant_type: str) -> _Tokens:
        previous = self._cached.code_hash if self._cached else ""
        tokens = _Tokens(
            access=str(answer["access_token"]),
            refresh=str(answer["refresh_token"]),
            expires_at=self._clock() + float(answer.get("expires_in", 86400)),
            code_hash=self._code_hash() if grant_type == "authorization_code" else previous,
        )
        await self._state.set(STATE_KEY, tokens.as_state())  # access, refresh, expiry: one atomic value
        self._cached = tokens
        await self._state.delete(ROTATION_KEY)
        log.info("amocrm.oauth.rotated", grant=grant_type, expires_in=answer.get("expires_in"))
        return tokens

    async def _post(self, body: dict[str, str]) -> dict[str, Any]:
        if self._bucket is not None:
            await self._bucket.acquire()
        try:
            async with self._session.post(self._url, json=body, timeout=self._timeout) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"amoCRM token endpoint unreachable: {exc!r}", adapter=ADAPTER) from exc
        answer = parse_body(text)
        if status >= 500 or status == 429:
            raise TransientError(f"amoCRM token endpoint answered HTTP {status}", adapter=ADAPTER)
        if status != 200 or not isinstance(answer, dict) or "refresh_token" not in answer:
            raise AuthError(_refused(status, answer, body["grant_type"]), adapter=ADAPTER)
        return answer


def _refused(status: int, answer: Any, grant: str) -> str:
    hint = ""
    if isinstance(answer, dict):
        hint = str(answer.get("hint") or answer.get("detail") or answer.get("title") or "")
    what = "authorization code" if grant == "authorization_code" else "refresh token"
    return (
        f"amoCRM refused the {what} (HTTP {status}{': ' + hint if hint else ''}); issue a new"
        " authorization code in the integration's settings and put it in adapters.amocrm.auth.auth_code"
    )

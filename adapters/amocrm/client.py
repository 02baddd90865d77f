"""The HTTP client for amoCRM API v4: paced, authenticated, with every answer mapped at the boundary.

The session is injected (the service owns it). Each request waits for the adapter's token
bucket first, because lookups for routing happen outside the outbox and the account's limit
(7 requests/s, over it a non-JSON 429 and, when abused, an IP block) covers everything we send.
A 401 triggers one credential refresh and one retry; everything else is mapped by
`adapters.amocrm.errors`. 204 means "no match" and comes back as None.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.amocrm.auth import Credentials
from adapters.amocrm.errors import ADAPTER, error_for, parse_body
from connector import logs
from connector.errors import AuthError, TransientError
from connector.sync.ratelimit import TokenBucket

log = logs.get_logger(__name__)


class AmoClient:
    """Sends requests to one amoCRM account and returns their JSON (None for 204)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Credentials,
        bucket: TokenBucket,
        *,
        timeout: float,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._credentials = credentials
        self._bucket = bucket
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        """GET `path` (e.g. /api/v4/users); None when amoCRM answers 204 (nothing found)."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any) -> Any | None:
        """POST a JSON `body` to `path`."""
        return await self.request("POST", path, body=body)

    async def request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> Any | None:
        """One API call, with one retry after a credential refresh when amoCRM answers 401."""
        token = await self._credentials.access_token()
        status, text, headers = await self._send(method, path, token, params, body)
        if status == 401 and await self._credentials.refresh(token):
            token = await self._credentials.access_token()
            status, text, headers = await self._send(method, path, token, params, body)
        if status == 204:
            return None
        if 200 <= status < 300:
            return _json(status, text)
        error = error_for(status, text, headers.get("Retry-After"))
        if isinstance(error, AuthError):
            log.warning("amocrm.refused", method=method, path=path, status=status, error=str(error))
        raise error

    async def _send(
        self, method: str, path: str, token: str, params: dict[str, str] | None, body: Any
    ) -> tuple[int, str, dict[str, str]]:
        await self._bucket.acquire()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=params,
                json=body,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                text = await response.text()
                return response.status, text, dict(response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"amoCRM unreachable: {method} {path}: {exc!r}", adapter=ADAPTER) from exc


def _json(status: int, text: str) -> Any:
    body = parse_body(text)
    if body is None:
        # a 2xx that is not JSON comes from a proxy or maintenance page, not from the API
        raise TransientError(f"amoCRM answered HTTP {status} without JSON", adapter=ADAPTER)
    return body

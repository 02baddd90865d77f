"""HTTP for the webhook adapter: sign, POST, and map every answer to the connector's error kinds.

2xx → done; 429 → `RateLimitedError` and 408/425/5xx/timeouts/connection errors →
`TransientError` (both with the receiver's Retry-After); 401/403 → `AuthError`; a redirect or any
other 4xx → `PermanentError` carrying the receiver's own text.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from connector.errors import AuthError, PermanentError, RateLimitedError, TransientError

SIGNATURE_HEADER = "X-Connector-Signature"
EVENT_HEADER = "X-Connector-Event"
KEY_HEADER = "Idempotency-Key"
_TEXT_LIMIT = 500  # characters of the receiver's answer kept in a dead letter
_ANSWER_LIMIT = 64 * 1024  # bytes of a lookup answer read (one contact)


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class WebhookClient:
    """Posts signed JSON bodies to one URL through the injected session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: str,
        timeout: float,
        name: str,
        *,
        token: str = "",
    ) -> None:
        self.token = token
        self.session = session
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.name = name
        parts = urlsplit(url)
        self.where = f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query: it may hold a token

    async def post(self, body: bytes, *, key: str, event: str) -> None:
        """Deliver `body`; raise the error kind that says what to do when it is not accepted."""
        headers = {
            "Content-Type": "application/json",
            KEY_HEADER: key,
            EVENT_HEADER: event,
            SIGNATURE_HEADER: sign(self.secret, body),
            **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
        }
        try:
            async with self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as response:
                text = await response.text(errors="replace")
                status, answer_headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise TransientError(f"{self.where}: {reason}", adapter=self.name) from exc
        self.check(status, text, answer_headers)

    async def get_json(self, url: str, params: Mapping[str, str]) -> object:
        """GET `url` with the bearer token; the JSON answer, or the error kind of a refusal."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with self.session.get(
                url, params=params, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as response:
                text = (await response.content.read(_ANSWER_LIMIT)).decode("utf-8", "replace")
                status, answer_headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{url}: {str(exc) or type(exc).__name__}", adapter=self.name) from exc
        self.check(status, text, answer_headers)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise PermanentError(f"{url} answered with text that is not JSON", adapter=self.name) from exc

    def check(self, status: int, text: str, headers: Mapping[str, str]) -> None:
        """Raise for an answer that is not a success."""
        if 200 <= status < 300:
            return
        said = f"{self.where} answered HTTP {status}: {text.strip()[:_TEXT_LIMIT]}"
        wait = retry_after(headers.get("Retry-After"))
        if status == 429:
            raise RateLimitedError(said, adapter=self.name, retry_after=wait)
        if status in (408, 425) or status >= 500:
            raise TransientError(said, adapter=self.name, retry_after=wait)
        if status in (401, 403):
            raise AuthError(said, adapter=self.name)
        if 300 <= status < 400:
            raise PermanentError(f"{said} (redirect to {headers.get('Location', '?')})", adapter=self.name)
        raise PermanentError(said, adapter=self.name)

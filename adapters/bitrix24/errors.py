"""Bitrix24's answers → the adapter error kinds, at one place.

A Bitrix24 error is `{"error": CODE, "error_description": TEXT}` where CODE may be an empty
string, sometimes with HTTP 200; limit answers sometimes come as an HTML page. `parse` turns a
raw answer into the payload or a `Bitrix24ApiError`; `to_adapter_error` decides what the caller
must do about it (retry, re-authenticate, or give up on this job).
"""

from __future__ import annotations

import json
from typing import Any

from connector.errors import AdapterError, AuthError, PermanentError, RateLimitedError, TransientError

# Codes that mean "these credentials cannot do this": park the adapter and tell a human.
_AUTH_CODES = frozenset(
    {
        "expired_token",
        "invalid_token",
        "no_auth_found",
        "invalid_credentials",
        "insufficient_scope",
        "user_access_error",
        "access_denied",
        "wrong_auth_type",
        "portal_deleted",
        "authorization_error",
        "overload_limit",
        "invalid_grant",
        "invalid_client",
    }
)
_TRANSIENT_CODES = frozenset({"internal_server_error", "error_unexpected_answer", "unexpected_answer"})


class Bitrix24ApiError(Exception):
    """Bitrix24 refused a request; `code` is its error code (may be empty)."""

    def __init__(self, code: str, description: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"{code or 'error'}: {description}" if description else code or f"HTTP {status}")
        self.code = code
        self.description = description
        self.status = status
        self.retry_after = retry_after


class PortalCallNotFoundError(PermanentError):
    """The portal does not know the CALL_ID (never registered, or already finished)."""


class WrongAuthTypeError(AuthError):
    """The method refuses this kind of credentials (telephony on an inbound webhook)."""


def parse(status: int, text: str, retry_after: str | None = None) -> dict[str, Any]:
    """The JSON payload of a successful answer; a `Bitrix24ApiError` for anything else."""
    wait = _seconds(retry_after)
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise Bitrix24ApiError(_code_for_non_json(status), _snippet(text), status, wait)
    if "error" in payload:
        code = str(payload.get("error") or "")
        description = str(payload.get("error_description") or "")
        raise Bitrix24ApiError(code, description, status, wait)
    if status >= 400:
        raise Bitrix24ApiError("", _snippet(text), status, wait)
    return payload


def to_adapter_error(
    exc: Bitrix24ApiError, method: str, adapter: str, secrets: tuple[str, ...] = ()
) -> AdapterError:
    """The adapter error kind for a Bitrix24 refusal of `method` (raise it `from exc`).

    `secrets` are masked in the message: proxies' HTML error pages may echo the request URL,
    and with it a webhook's code, into what ends up in logs and the outbox's last_error.
    """
    code = exc.code.lower()
    message = f"{method}: {exc}"
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    if code == "query_limit_exceeded" or (exc.status == 503 and not code):
        return RateLimitedError(message, adapter=adapter, retry_after=exc.retry_after or 1.0)
    if code == "operation_time_limit" or exc.status == 429:
        return RateLimitedError(message, adapter=adapter, retry_after=exc.retry_after or 60.0)
    if code == "wrong_auth_type":
        return WrongAuthTypeError(
            f"{message} (this method needs an OAuth app, not a webhook)", adapter=adapter
        )
    if code in _AUTH_CODES or (exc.status in (401, 403) and not code):
        return AuthError(message, adapter=adapter)
    if code in _TRANSIENT_CODES or exc.status >= 500:
        return TransientError(message, adapter=adapter, retry_after=exc.retry_after)
    if "call is not found" in exc.description.lower() and "statistic" not in exc.description.lower():
        return PortalCallNotFoundError(message, adapter=adapter)
    if "not finished yet" in exc.description.lower():
        # attachRecord before finish landed: the finish job will come first on the next try.
        return TransientError(message, adapter=adapter, retry_after=exc.retry_after or 5.0)
    return PermanentError(message, adapter=adapter)


def _code_for_non_json(status: int) -> str:
    if status == 503:
        return "QUERY_LIMIT_EXCEEDED"
    if status == 429:
        return "OPERATION_TIME_LIMIT"
    if status in (401, 403):
        return ""
    # An HTML page with 200/404/5xx is a proxy or maintenance page, not the REST API talking.
    return "UNEXPECTED_ANSWER"


def _snippet(text: str) -> str:
    """A short, single-line excerpt of a non-JSON body (HTML error pages are long)."""
    flat = " ".join(text.split())
    return flat[:200] if flat else "empty body"


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None

"""amoCRM answers → the connector's error kinds, decided in one place.

AdapterError
├── TransientError ....... timeouts, connection errors, 5xx, non-JSON 2xx (a proxy page)
│   └── RateLimitedError . 429 (amoCRM's body is not JSON), retry after a pause
├── AuthError ............ 401 after one refresh, 402 (account unpaid), 403 (rights, IP block)
└── PermanentError ....... other 4xx, with amoCRM's own title/detail
    ├── ValidationFailed . 400 with `validation-errors` (each {code, path, detail} kept)
    └── EntityNotFound ... POST /calls found no card for the phone (status 263): create one, retry
"""

from __future__ import annotations

import json
from typing import Any

from connector.errors import AdapterError, AuthError, PermanentError, RateLimitedError, TransientError

ADAPTER = "amocrm"
RATE_LIMIT_PAUSE = 1.0  # amoCRM sends no Retry-After; one second empties its 1 s window


class ValidationFailed(PermanentError):
    """amoCRM rejected the body; `problems` are its {code, path, detail} entries."""

    def __init__(self, message: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message, adapter=ADAPTER)
        self.problems = problems

    def has_code(self, code: str) -> bool:
        """Whether one of the problems carries `code`."""
        return any(p.get("code") == code for p in self.problems)


class Forbidden(AuthError):
    """403: the integration's user lacks rights for this request, or our IP is blocked."""

    def __init__(self, message: str) -> None:
        super().__init__(message, adapter=ADAPTER)


class EntityNotFound(PermanentError):
    """amoCRM has no contact, company or lead for the call's phone, so it did not store the call."""


def parse_body(text: str) -> Any | None:
    """The JSON of `text`, or None when it is empty or not JSON."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def error_for(status: int, text: str, retry_after: str | None = None) -> AdapterError:
    """The adapter error for a non-2xx answer (`text` is the raw body)."""
    body = parse_body(text)
    problem = body if isinstance(body, dict) else {}
    message = _message(status, problem, text)
    if status == 429:
        return RateLimitedError(message, adapter=ADAPTER, retry_after=_seconds(retry_after))
    if status == 403:
        return Forbidden(message)
    if status in (401, 402):
        return AuthError(message, adapter=ADAPTER)
    if status >= 500 or status == 408:
        return TransientError(message, adapter=ADAPTER, retry_after=_seconds(retry_after, None))
    if _entity_not_found(problem):
        return EntityNotFound(message, adapter=ADAPTER)
    problems = _validation_problems(problem)
    if problems:
        return ValidationFailed(f"{message}: {_describe(problems)}", problems)
    return PermanentError(message, adapter=ADAPTER)


def _message(status: int, problem: dict[str, Any], text: str) -> str:
    title = problem.get("title") or ""
    detail = problem.get("detail") or problem.get("hint") or ""
    errors = problem.get("errors")
    if not title and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        title = str(errors[0].get("title", ""))
    if not (title or detail):
        snippet = " ".join(text.split())[:120]
        return f"amoCRM answered HTTP {status}" + (f": {snippet}" if snippet else "")
    return f"amoCRM answered HTTP {status}: " + " — ".join(p for p in (str(title), str(detail)) if p)


def _entity_not_found(problem: dict[str, Any]) -> bool:
    errors = problem.get("errors")
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, dict) and (e.get("status") == 263 or e.get("title") == "Entity not found")
        for e in errors
    )


def _validation_problems(problem: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for entry in problem.get("validation-errors") or []:
        if isinstance(entry, dict):
            found.extend(e for e in entry.get("errors") or [] if isinstance(e, dict))
    return found


def _describe(problems: list[dict[str, Any]]) -> str:
    return "; ".join(f"{p.get('path', '?')}: {p.get('detail') or p.get('code')}" for p in problems[:5])


def _seconds(header: str | None, default: float | None = RATE_LIMIT_PAUSE) -> float | None:
    if header is None:
        return default
    try:
        return max(0.0, float(header))
    except ValueError:
        return default

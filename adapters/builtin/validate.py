"""Checking request input before anything is written: JSON bodies and query strings.

Every problem in a body is collected and answered at once as a 422 problem+json with an
`errors` list naming each field, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from adapters.builtin.db import iso
from adapters.builtin.numbers import normalise
from connector.api.app import Problem

MAX_PER_PAGE = 200


@dataclass(frozen=True, slots=True)
class Field:
    """One accepted body member: its kind, whether it is required, allowed values, max length."""

    name: str
    kind: str = "str"  # str, text, int, id, float, bool, time, phone, phones, emails, choice
    required: bool = False
    choices: tuple[str, ...] = ()
    max_len: int = 200


def invalid(field: str, message: str) -> Problem:
    """A 422 problem for one field."""
    return Problem(
        422, "Unprocessable Content", "the request has invalid fields", errors=[_err(field, message)]
    )


def _err(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def parse(data: dict[str, Any], fields: Sequence[Field], *, partial: bool = False) -> dict[str, Any]:
    """Check `data` against `fields`; returns the clean values or raises one 422 with every error."""
    known = {f.name: f for f in fields}
    errors = [_err(name, "unknown field") for name in data if name not in known]
    clean: dict[str, Any] = {}
    for f in fields:
        if f.name not in data:
            if f.required and not partial:
                errors.append(_err(f.name, "is required"))
            continue
        try:
            clean[f.name] = _convert(f, data[f.name])
        except ValueError as exc:
            errors.append(_err(f.name, str(exc)))
    if errors:
        raise Problem(422, "Unprocessable Content", "the request has invalid fields", errors=errors)
    return clean


def _convert(f: Field, value: Any) -> Any:
    if value is None:
        # null clears a link (company, responsible ...); a text or number field cannot be null
        if f.kind in ("id", "time") and not f.required:
            return None
        raise ValueError("must not be null")
    converter = _CONVERTERS[f.kind]
    return converter(f, value)


def _text(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = str(value).strip()
    if f.required and not text:
        raise ValueError("must not be empty")
    limit = f.max_len if f.kind == "str" else 10_000
    if len(text) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return text


MAX_INT = 2**63 - 1  # SQLite's INTEGER; a larger number would fail in the driver, not here


def _int(f: Field, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if abs(value) > MAX_INT:
        raise ValueError("is too large")
    if f.kind == "id" and value < 1:
        raise ValueError("must be a positive id")
    return value


def _float(f: Field, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if value < 0:
        raise ValueError("must not be negative")
    if value > 1e15:  # a sum of money; larger would lose cents or overflow
        raise ValueError("is too large")
    return float(value)


def _bool(f: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _time(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 time")
    return parse_time(value)


def _phone(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a phone number")
    phone = normalise(value)
    if not 2 <= len(phone.lstrip("+")) <= 15:
        raise ValueError(f"{value!r} is not a phone number")
    return phone


def _phones(f: Field, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 20:
        raise ValueError("must be a list of up to 20 phone numbers")
    return [_phone(f, item) for item in value]


def _names(f: Field, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 20 or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of up to 20 names")
    return [_text(Field(f.name), v) for v in value]


def _emails(f: Field, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 20:
        raise ValueError("must be a list of up to 20 e-mail addresses")
    out = []
    for item in value:
        text = _text(Field(f.name), item)
        if text and ("@" not in text or " " in text):
            raise ValueError(f"{text!r} is not an e-mail address")
        out.append(text)
    return out


def _choice(f: Field, value: Any) -> str:
    if value not in f.choices:
        raise ValueError(f"must be one of {', '.join(f.choices)}")
    return str(value)


_CONVERTERS = {
    "str": _text,
    "text": _text,
    "int": _int,
    "id": _int,
    "float": _float,
    "bool": _bool,
    "time": _time,
    "phone": _phone,
    "phones": _phones,
    "emails": _emails,
    "names": _names,
    "choice": _choice,
}


def parse_time(text: str) -> str:
    """An ISO-8601 time (or date) in the store's form; a date means its midnight UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment)


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of a list was asked for."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.per_page

    def body(self, items: list[Any], total: int) -> dict[str, Any]:
        """The JSON shape of a paginated answer."""
        return {"items": items, "total": total, "page": self.page, "per_page": self.per_page}


def page_of(request: web.Request, default: int) -> Page:
    """`?page=&per_page=` checked (per_page at most 200)."""
    page = query_int(request, "page", 1)
    per_page = query_int(request, "per_page", default)
    if page < 1:
        raise invalid("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid("per_page", f"must be between 1 and {MAX_PER_PAGE}")
    return Page(page, per_page)


def query_int(request: web.Request, name: str, default: int) -> int:
    """An integer query parameter."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise invalid(name, "must be a whole number")
    if len(digits) > 18:
        raise invalid(name, "is too large")
    return int(raw)


def query_id(request: web.Request, name: str) -> int | None:
    """An optional positive id in the query string."""
    value = query_int(request, name, 0)
    if value < 0:
        raise invalid(name, "must be a positive id")
    return value or None


def query_choice(request: web.Request, name: str, choices: Sequence[str]) -> str | None:
    """An optional query parameter limited to `choices`."""
    raw = request.query.get(name) or None
    if raw is not None and raw not in choices:
        raise invalid(name, f"must be one of {', '.join(choices)}")
    return raw


def query_bool(request: web.Request, name: str) -> bool | None:
    """An optional true/false query parameter (1/0, yes/no accepted)."""
    raw = (request.query.get(name) or "").lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise invalid(name, "must be true or false")


def query_time(request: web.Request, name: str) -> str | None:
    """An optional ISO-8601 time in the query string."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise invalid(name, str(exc)) from exc


def path_id(request: web.Request, name: str = "id") -> int:
    """A positive integer id from the URL path (404 when it is not one)."""
    raw = request.match_info[name]
    # ASCII digits only ("²" is a digit to Python) and at most 18 of them (SQLite's INTEGER)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < 1:
        raise Problem(404, "Not Found", f"no such {name}")
    return int(raw)

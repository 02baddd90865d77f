"""What every built-in CRM route shares: the app keys, the caller, store errors as problems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.builtin.db import (
    BAD_VALUE_ERRORS,
    INTEGRITY_ERRORS,
    UNAVAILABLE_ERRORS,
    ConflictError,
    NotFoundError,
    Row,
)
from adapters.builtin.store import Store
from connector.api.app import Handler, Problem
from connector.api.auth import Principal, require
from connector.api.recordings import RecordingLinks


@dataclass(frozen=True, slots=True)
class CrmConfig:
    """What the routes need besides the store."""

    page_size: int = 50
    links: RecordingLinks | None = None
    call_control: Any = None  # the call-control service (click-to-call), when the daemon has one


STORE_KEY = web.AppKey("builtin_store", Store)
CONFIG_KEY = web.AppKey("builtin_config", CrmConfig)


def store_of(request: web.Request) -> Store:
    """The CRM store."""
    return request.app[STORE_KEY]


def config_of(request: web.Request) -> CrmConfig:
    """The CRM routes' configuration."""
    return request.app[CONFIG_KEY]


async def caller(request: web.Request) -> Principal:
    """The authenticated caller (401 problem otherwise)."""
    return await require(request)


def ok(data: Any, status: int = 200) -> web.Response:
    """A JSON answer."""
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def present_call(request: web.Request, row: Row) -> Row:
    """A call as the API shows it, with a signed, expiring link to its recording."""
    links = config_of(request).links
    row["recording_url"] = links.url(row["recording"]) if links and row.get("recording") else None
    return row


@web.middleware
async def store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Store errors as problems: missing → 404, contradiction → 409, unusable database → 503."""
    try:
        return await handler(request)
    except NotFoundError as exc:
        raise Problem(404, "Not Found", str(exc)) from exc
    except ConflictError as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    except INTEGRITY_ERRORS as exc:
        raise Problem(409, "Conflict", f"the change contradicts what is stored: {exc}") from exc
    except BAD_VALUE_ERRORS as exc:
        raise Problem(422, "Unprocessable Entity", f"the database cannot hold a value sent: {exc}") from exc
    except UNAVAILABLE_ERRORS as exc:
        raise Problem(503, "Service Unavailable", "the CRM database is not available") from exc

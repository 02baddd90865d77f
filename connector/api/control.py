"""HTTP routes of call control: click-to-call, hang-up and transfers, for API tokens.

    POST /api/calls/originate {extension, number}            → 202 {"conversation": id}
    POST /api/calls/hangup    {extension}                    → 200 {"ok": true}
    POST /api/calls/transfer  {extension, target, kind}      → 200 {"ok": true}   kind: blind|attended

A token (`Authorization: Bearer`) may act only for the extensions it lists; numbers must match
`call_control.number_patterns`; click-to-call is rate-limited per token. Errors are problem+json:
401 no token, 403 not permitted, 404 no such call, 409 refused by Asterisk, 429 rate limit
(with Retry-After), 503 the PBX is not reachable.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from connector.api.app import Problem, read_json
from connector.api.auth import Principal, require
from connector.calls.model import TransferKind
from connector.control import CallControl
from connector.errors import (
    CallControlError,
    CallNotFoundError,
    NotPermittedError,
    PbxUnavailableError,
    TooManyCallsError,
)

CONTROL_KEY: web.AppKey[CallControl] = web.AppKey("call_control", CallControl)


def setup(app: web.Application, control: CallControl) -> None:
    """Mount the call-control routes onto the daemon's application."""
    app[CONTROL_KEY] = control
    app.router.add_post("/api/calls/originate", originate)
    app.router.add_post("/api/calls/hangup", hangup)
    app.router.add_post("/api/calls/transfer", transfer)


async def originate(request: web.Request) -> web.Response:
    """Click-to-call: the employee's phone rings first, then the client is dialled."""
    principal, body = await _prepare(request)
    number = _text(body, "number")
    conversation = await run_action(
        request.app[CONTROL_KEY].originate(_text(body, "extension"), number, by=principal)
    )
    return web.json_response({"conversation": conversation}, status=202)


async def hangup(request: web.Request) -> web.Response:
    """Hang up the employee's call (on an outgoing call, the client's side too)."""
    principal, body = await _prepare(request)
    await run_action(request.app[CONTROL_KEY].hangup(_text(body, "extension"), by=principal))
    return web.json_response({"ok": True})


async def transfer(request: web.Request) -> web.Response:
    """Blind or attended transfer of the employee's call to another extension."""
    principal, body = await _prepare(request)
    try:
        kind = TransferKind(str(body.get("kind", "blind")))
    except ValueError as exc:
        raise Problem(400, "Bad Request", "kind must be 'blind' or 'attended'") from exc
    control = request.app[CONTROL_KEY]
    await run_action(control.transfer(_text(body, "extension"), _text(body, "target"), kind, by=principal))
    return web.json_response({"ok": True})


async def _prepare(request: web.Request) -> tuple[Principal, dict[str, Any]]:
    principal = await require(request)
    return principal, await read_json(request)


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise Problem(400, "Bad Request", f"{name} is required")
    return str(value).strip()


async def run_action(action: Awaitable[Any]) -> Any:
    """Await a call-control action, turning its refusals into problem+json answers."""
    try:
        return await action
    except TooManyCallsError as exc:
        # An HTTPException, so the problem middleware keeps its Retry-After header.
        raise web.HTTPTooManyRequests(headers={"Retry-After": retry_after(exc)}) from exc
    except NotPermittedError as exc:
        raise Problem(403, "Forbidden", str(exc)) from exc
    except CallNotFoundError as exc:
        raise Problem(404, "Not Found", str(exc)) from exc
    except PbxUnavailableError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from exc
    except CallControlError as exc:
        raise Problem(409, "Conflict", str(exc)) from exc


def retry_after(exc: TooManyCallsError) -> str:
    """The Retry-After header value for a rate-limit refusal (whole seconds, at least 1)."""
    return str(max(1, math.ceil(exc.retry_after)))

"""The audit log's one writer for REST changes: a middleware, so no route can change data unrecorded.

Every successful POST, PUT, PATCH or DELETE under /api/crm/ is recorded with who made it, the kind
of record (the path's first segment: clients, deals, tasks, employees, campaigns ...), its id (from
the path, or from the answer for a creation), the action and the fields sent, with secrets masked.
Signing in and out and changing one's own password are recorded by their routes, which know more.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from adapters.builtin.handlers import store_of
from connector import logs
from connector.api.app import Handler
from connector.api.auth import SAFE_METHODS, Principal, cached_principal
from connector.api.throttle import client_address

log = logs.get_logger(__name__)

_PREFIX = "/api/crm/"
_OWN_RECORDS = ("/api/crm/session", "/api/crm/me/password")
_ACTIONS = {"POST": "create", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


@web.middleware
async def audit_changes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record a successful change after its handler ran."""
    response = await handler(request)
    if request.method in SAFE_METHODS or not request.path.startswith(_PREFIX):
        return response
    if request.path.startswith(_OWN_RECORDS) or not 200 <= response.status < 300:
        return response
    store_of(request).changes.poke()  # the live feed pushes what this change wrote
    principal = cached_principal(request)
    if principal is None:
        return response
    try:
        await _record(request, response, principal)
    except Exception:  # isolation: the change is made; a failed audit write is logged, not raised
        log.exception("audit.write_failed", path=request.path)
    return response


async def _record(request: web.Request, response: web.StreamResponse, principal: Principal) -> None:
    parts = request.path[len(_PREFIX) :].split("/")
    entity = parts[0]
    entity_id: Any = parts[1] if len(parts) > 1 else None
    action = parts[2] if len(parts) > 2 else _ACTIONS.get(request.method, request.method.lower())
    if len(parts) == 2 and request.method == "POST" and not parts[1].isdigit():
        action = parts[1]  # e.g. /imports/preview
        entity_id = None
    body = await _body(request)
    if entity_id is None and isinstance(response, web.Response):
        entity_id = _id_of(response)
    await store_of(request).audit.record(
        principal.employee_id,
        principal.name,
        action,
        entity,
        entity_id,
        detail=body,
        address=client_address(request),
    )


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json" or not request.body_exists:
        return {}
    try:
        data = json.loads(await request.read())  # already read by the handler: no second wait
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _id_of(response: web.Response) -> Any:
    if response.content_type != "application/json" or response.body is None:
        return None
    try:
        data = json.loads(bytes(response.body))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None
    return data.get("id") if isinstance(data, dict) else None

"""REST routes for a deal's people (seed 003: participants, leaving a deal, muting its notifications).

POST   /api/crm/deals/{id}/participants {employee_id}   add an employee (who may change the deal)
DELETE /api/crm/deals/{id}/participants/{employee_id}   take one off, or leave (one's own id)
PATCH  /api/crm/deals/{id}/notifications {muted}        my notifications about the deal off or on
"""

from __future__ import annotations

from aiohttp import web

from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.permissions import CHANGE, READ, check_owner
from adapters.builtin.validate import Field, parse, path_id
from connector.api.app import Problem, read_json


async def add(request: web.Request) -> web.Response:
    """POST /api/crm/deals/{id}/participants {employee_id}."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("employee_id", "id", True),))
    deals = store_of(request).deals
    deal = await deals.get(path_id(request))
    check_owner(principal, "deals", CHANGE, deal)
    await deals.people.add(deal, body["employee_id"], principal.employee_id)
    return ok(await deals.get(deal["id"]), 201)


async def remove(request: web.Request) -> web.Response:
    """DELETE /api/crm/deals/{id}/participants/{employee_id}: anyone may leave; others need the right."""
    principal = await caller(request)
    deals = store_of(request).deals
    deal = await deals.get(path_id(request))
    employee_id = path_id(request, "employee_id")
    if employee_id != principal.employee_id:
        check_owner(principal, "deals", CHANGE, deal)
    await deals.people.remove(deal, employee_id, principal.employee_id)
    return ok(await deals.get(deal["id"]))


async def notifications(request: web.Request) -> web.Response:
    """PATCH /api/crm/deals/{id}/notifications {muted}: for the signed-in employee, on their deal."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("muted", "bool", True),))
    deals = store_of(request).deals
    deal = await deals.get(path_id(request))
    check_owner(principal, "deals", READ, deal)
    me = principal.employee_id
    if me is None or me not in [p["employee_id"] for p in deal["people"]]:
        raise Problem(409, "Conflict", "only the deal's responsible and participants get its notifications")
    await deals.people.set_muted(deal, me, body["muted"])
    return ok(await deals.get(deal["id"]))


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_post("/api/crm/deals/{id}/participants", add)
    router.add_delete("/api/crm/deals/{id}/participants/{employee_id}", remove)
    router.add_patch("/api/crm/deals/{id}/notifications", notifications)

"""REST routes of the daily workspace: search, deals board and card, alerts, live feed, settings.

GET   /api/crm/search?q=              clients and companies as you type
GET   /api/crm/board?pipeline_id=&mine=1
GET   /api/crm/deals/{id}             the deal card: history, tasks, calls
GET   /api/crm/alerts                 my reminders and tasks due now and soon, badge count
PATCH /api/crm/reminders/{id} {done}
GET   /api/crm/activity?kind=         the company's live feed
GET   /api/crm/settings   PATCH (admins) {timezone, missed_call_task, client_columns, call_outcomes}
POST  /api/crm/contacts {phone}       the number's card (made for a new number)
DELETE /api/crm/clients/{id}/phones/{phone}
PATCH /api/crm/companies/{id} {name, inn}
"""

from __future__ import annotations

from aiohttp import web

from adapters.builtin import board
from adapters.builtin.db import NotFoundError
from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.numbers import normalise
from adapters.builtin.permissions import CHANGE, READ, check_owner, own_filter
from adapters.builtin.search import search as run_search
from adapters.builtin.validate import Field, invalid, parse, path_id, query_bool, query_id
from connector.api.app import Problem, read_json


async def search(request: web.Request) -> web.Response:
    """GET /api/crm/search?q=: up to 8 clients and 8 companies."""
    await caller(request)
    q = request.query.get("q", "")[:100]
    return ok(await run_search(store_of(request).db, q))


async def deals_board(request: web.Request) -> web.Response:
    """GET /api/crm/board?pipeline_id=&mine=1: a pipeline's stages with totals and cards."""
    principal = await caller(request)
    store = store_of(request)
    pipeline_id = query_id(request, "pipeline_id") or (await store.deals.pipelines())[0]["id"]
    mine = principal.employee_id if query_bool(request, "mine") else None
    mine = own_filter(principal, "deals") or mine  # an employee's board shows their own deals
    return ok(await board.board(store.db, store.deals, pipeline_id, mine))


async def deal_card(request: web.Request) -> web.Response:
    """GET /api/crm/deals/{id}: the deal with its history, tasks and calls (an employee's own)."""
    principal = await caller(request)
    store = store_of(request)
    check_owner(principal, "deals", READ, await store.deals.get(path_id(request)))
    return ok(await board.deal_card(store.db, store.deals, path_id(request)))


async def alerts(request: web.Request) -> web.Response:
    """GET /api/crm/alerts: what to remind the signed-in employee of."""
    principal = await caller(request)
    if principal.employee_id is None:
        return ok({"due": [], "upcoming": [], "count": 0})
    return ok(await board.alerts(store_of(request).db, principal.employee_id))


async def update_reminder(request: web.Request) -> web.Response:
    """PATCH /api/crm/reminders/{id} {done}."""
    await caller(request)
    body = parse(await read_json(request), (Field("done", "bool", True),))
    return ok(await store_of(request).notes.set_reminder_done(path_id(request), body["done"]))


async def mention_seen(request: web.Request) -> web.Response:
    """POST /api/crm/mentions/{id}/seen: the signed-in employee has read comment {id} that mentions them."""
    principal = await caller(request)
    if principal.employee_id is None:
        raise NotFoundError("mention", path_id(request))
    await store_of(request).notes.mark_mention_seen(path_id(request), principal.employee_id)
    return ok({"comment_id": path_id(request), "seen": True})


async def activity(request: web.Request) -> web.Response:
    """GET /api/crm/activity?kind=call,deal&per_page=: the company's live feed, newest first."""
    principal = await caller(request)
    kinds = tuple(k for k in request.query.get("kind", "").split(",") if k) or board.ACTIVITY_KINDS
    wrong = [k for k in kinds if k not in board.ACTIVITY_KINDS]
    if wrong:
        raise invalid("kind", f"unknown kind {wrong[0]}")
    try:
        limit = min(200, max(1, int(request.query.get("per_page", "100"))))
    except ValueError as exc:
        raise invalid("per_page", "must be a whole number") from exc
    rows = await board.activity(store_of(request).db, kinds, principal.scope, limit=limit)
    return ok({"items": rows})


async def get_settings(request: web.Request) -> web.Response:
    """GET /api/crm/settings."""
    await caller(request)
    return ok(await board.get_settings(store_of(request).db))


async def update_settings(request: web.Request) -> web.Response:
    """PATCH /api/crm/settings {timezone, missed_call_task} (admins)."""
    principal = await caller(request)
    if not principal.is_admin:
        raise Problem(403, "Forbidden", "only admins change company settings")
    body = parse(
        await read_json(request),
        (
            Field("timezone", max_len=64),
            Field("missed_call_task", "bool"),
            Field("client_columns", "names"),
            Field("call_outcomes", "names"),
        ),
        partial=True,
    )
    try:
        board.check_timezone(body.get("timezone", ""))
    except ValueError as exc:
        raise invalid("timezone", str(exc)) from exc
    try:
        board.check_columns(body.get("client_columns", []))
    except ValueError as exc:
        raise invalid("client_columns", str(exc)) from exc
    try:
        board.check_outcomes(body.get("call_outcomes", []))
    except ValueError as exc:
        raise invalid("call_outcomes", str(exc)) from exc
    return ok(await board.set_settings(store_of(request).db, body))


async def contact_card(request: web.Request) -> web.Response:
    """POST /api/crm/contacts {phone}: the card holding a number, made for a new number."""
    await caller(request)
    body = parse(await read_json(request), (Field("phone", "phone", True),))
    store = store_of(request)
    client_id = await store.clients.ensure_contact(body["phone"])
    return ok(await store.clients.get(client_id))


async def remove_phone(request: web.Request) -> web.Response:
    """DELETE /api/crm/clients/{id}/phones/{phone}."""
    principal = await caller(request)
    phone = normalise(request.match_info["phone"])
    check_owner(principal, "clients", CHANGE, await store_of(request).clients.get(path_id(request)))
    return ok(await store_of(request).clients.remove_phone(path_id(request), phone, principal.employee_id))


async def update_company(request: web.Request) -> web.Response:
    """PATCH /api/crm/companies/{id} {name, inn}."""
    await caller(request)
    body = parse(await read_json(request), (Field("name"), Field("inn", max_len=12)), partial=True)
    check_inn(body.get("inn") or "")
    return ok(await store_of(request).companies.update(path_id(request), body))


def check_inn(inn: str) -> None:
    """An INN has 10 (organisation) or 12 (person) digits."""
    if inn and (not inn.isdigit() or len(inn) not in (10, 12)):
        raise invalid("inn", "an INN has 10 or 12 digits")


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/search", search)
    router.add_get("/api/crm/board", deals_board)
    router.add_get("/api/crm/deals/{id}", deal_card)
    router.add_get("/api/crm/alerts", alerts)
    router.add_patch("/api/crm/reminders/{id}", update_reminder)
    router.add_post("/api/crm/mentions/{id}/seen", mention_seen)
    router.add_get("/api/crm/activity", activity)
    router.add_get("/api/crm/settings", get_settings)
    router.add_patch("/api/crm/settings", update_settings)
    router.add_post("/api/crm/contacts", contact_card)
    router.add_delete("/api/crm/clients/{id}/phones/{phone}", remove_phone)
    router.add_patch("/api/crm/companies/{id}", update_company)

"""REST routes for the call log and its quick actions (comment, client, task, deal, spam, call back)."""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import web

from adapters.builtin import board
from adapters.builtin.callstore import CALL_REASONS, CALL_TYPES, CallFilter
from adapters.builtin.db import Row
from adapters.builtin.handlers import caller, config_of, ok, present_call, store_of
from adapters.builtin.numbers import normalise
from adapters.builtin.permissions import CHANGE, check_owner
from adapters.builtin.routes_analytics import office
from adapters.builtin.validate import (
    Field,
    invalid,
    page_of,
    parse,
    query_bool,
    query_choice,
    query_id,
    query_time,
)
from connector.api.app import Problem, read_json
from connector.api.auth import Principal
from connector.api.control import CONTROL_KEY, run_action


def call_filter(request: web.Request, principal: Principal) -> CallFilter:
    """The list filter from the query string (all checked; 422 on a bad value)."""
    query = request.query
    since, until = query_time(request, "from"), query_time(request, "to")
    if since and until and since >= until:
        raise Problem(
            422, "Unprocessable Content", "", errors=[{"field": "to", "message": "must be after from"}]
        )
    return CallFilter(
        type=query_choice(request, "type", CALL_TYPES),
        did=normalise(query["did"]) if query.get("did") else None,
        employee=query.get("employee") or None,
        since=since,
        until=until,
        client_id=query_id(request, "client_id"),
        phone=normalise(query["phone"]) if query.get("phone") else None,
        appeals=bool(query_bool(request, "appeals")),
        unsorted=bool(query_bool(request, "unsorted")),
        spam=query_bool(request, "spam"),
        extensions=principal.scope,
        q=query.get("q", "").strip()[:100] or None,
        reason=query_choice(request, "reason", CALL_REASONS),
        closed_hours_first=bool(query_bool(request, "closed_hours_first")),
        pbx=office(request),
        outcome=query.get("outcome", "").strip()[:100] or None,
    )


async def list_calls(request: web.Request) -> web.Response:
    """GET /api/crm/calls: filters type, did, employee, from, to, appeals, unsorted, spam, phone,
    reason (why an unanswered call ended so), outcome (as chosen); closed_hours_first=true lists
    closed-hours calls first."""
    principal = await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await store_of(request).calls.list(
        call_filter(request, principal), limit=page.per_page, offset=page.offset
    )
    return ok(page.body([present_call(request, r) for r in rows], total))


async def _visible_call(request: web.Request, principal: Principal) -> Row:
    return await store_of(request).calls.get(request.match_info["id"], principal.scope)


async def get_call(request: web.Request) -> web.Response:
    """GET /api/crm/calls/{id} (an employee sees only their own calls)."""
    principal = await caller(request)
    return ok(present_call(request, await _visible_call(request, principal)))


async def comment(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/comment {text}: a comment on the call and its client's card."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("text", "text", True),))
    call = await _visible_call(request, principal)
    row = await store_of(request).notes.add_comment(
        call["client_id"], body["text"], principal.employee_id, call["id"]
    )
    return ok(row, 201)


async def make_client(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/client {name, email?}: turn the number's contact card into a client."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("name", required=True), Field("email")))
    call = await _visible_call(request, principal)
    store = store_of(request)
    if call["client_id"] is not None and call["client_kind"] == "client":
        raise Problem(409, "Conflict", f"the number already belongs to client {call['client_id']}")
    if call["client_id"] is not None:
        check_owner(principal, "clients", CHANGE, await store.clients.get(call["client_id"]))
    changes: dict[str, Any] = {**body, "kind": "client", "responsible_id": principal.employee_id}
    if call["client_id"] is None:
        client_id = await store.clients.create(
            body["name"], [call["phone"]], responsible_id=principal.employee_id
        )
        return ok(await store.clients.get(client_id), 201)
    return ok(await store.clients.update(call["client_id"], changes), 201)


async def attach(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/attach {client_id}: add the call's number to an existing client."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("client_id", "id", True),))
    call = await _visible_call(request, principal)
    clients = store_of(request).clients
    check_owner(principal, "clients", CHANGE, await clients.get(body["client_id"]))
    return ok(await clients.add_phone(body["client_id"], call["phone"], principal.employee_id))


TASK_FIELDS = (Field("title", required=True), Field("assignee_id", "id"), Field("deadline", "time"))


async def task(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/task {title, assignee_id?, deadline?}."""
    principal = await caller(request)
    body = parse(await read_json(request), TASK_FIELDS)
    call = await _visible_call(request, principal)
    store = store_of(request)
    body["assignee_id"] = body.get("assignee_id") or principal.employee_id
    if body["assignee_id"] is not None:
        await store.employees.get(body["assignee_id"])
    row = await store.notes.add_task(
        {**body, "client_id": call["client_id"], "call_id": call["id"]}, principal.employee_id
    )
    return ok(row, 201)


DEAL_FROM_CALL = (
    Field("title"),
    Field("pipeline_id", "id"),
    Field("value", "float"),
    Field("currency", max_len=3),
)


async def deal(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/deal {title?, pipeline_id?, value?, currency?}: a deal for the caller."""
    principal = await caller(request)
    body = parse(await read_json(request), DEAL_FROM_CALL)
    call = await _visible_call(request, principal)
    store = store_of(request)
    pipelines = await store.deals.pipelines()
    pipeline_id = body.get("pipeline_id") or pipelines[0]["id"]
    await store.deals.pipeline(pipeline_id)
    fields = {
        **{k: v for k, v in body.items() if v is not None},
        "title": body.get("title") or call["phone"],
        "pipeline_id": pipeline_id,
        "client_id": call["client_id"],
        "call_id": call["id"],
        "responsible_id": principal.employee_id,
    }
    return ok(await store.deals.create(fields), 201)


async def spam(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/spam {spam: true|false}: mark the caller's number as spam (or not)."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("spam", "bool"),))
    call = await _visible_call(request, principal)
    flag = body.get("spam", True) is not False
    await store_of(request).calls.mark_spam(call["phone"], principal.employee_id, flag)
    return ok({"phone": call["phone"], "spam": flag})


async def outcome(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/outcome {outcome}: what came of the call, one of the company's
    outcomes (settings.call_outcomes); "" clears it. Employees: their own calls."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("outcome", "text", max_len=60),))
    call = await _visible_call(request, principal)
    chosen = str(body.get("outcome", "")).strip()
    store = store_of(request)
    if chosen and chosen not in (await board.get_settings(store.db))["call_outcomes"]:
        raise invalid("outcome", "not one of the company's call outcomes (Настройки → Итоги звонков)")
    await store.calls.set_outcome(call["id"], chosen, principal.employee_id)
    return ok({"id": call["id"], "outcome": chosen})


async def call_back(request: web.Request) -> web.Response:
    """POST /api/crm/calls/{id}/callback {extension?}: click-to-call the number back."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("extension", max_len=10),))
    call = await _visible_call(request, principal)
    extension = body.get("extension") or (principal.extensions[0] if principal.is_person else "")
    if not extension:
        raise Problem(
            422, "Unprocessable Content", "", errors=[{"field": "extension", "message": "is required"}]
        )
    if not principal.may_act_for(extension):
        raise Problem(403, "Forbidden", f"this token may not call from {extension}")
    # the daemon's call control, when the service mounted it (connector.api.control)
    control = config_of(request).call_control or request.app.get(CONTROL_KEY)
    originate = getattr(control, "originate", None)
    if originate is None:
        raise Problem(501, "Not Implemented", "click-to-call is not available on this daemon")
    # The daemon's call control checks the caller itself (extensions, number patterns, rate);
    # simpler implementations (tests, widgets) take just the extension and the number.
    extra = {"by": principal} if "by" in inspect.signature(originate).parameters else {}
    result = await run_action(originate(extension, call["phone"], **extra))
    return ok({"extension": extension, "number": call["phone"], "result": result}, 202)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/calls", list_calls)
    router.add_get("/api/crm/calls/{id}", get_call)
    router.add_post("/api/crm/calls/{id}/comment", comment)
    router.add_post("/api/crm/calls/{id}/client", make_client)
    router.add_post("/api/crm/calls/{id}/attach", attach)
    router.add_post("/api/crm/calls/{id}/task", task)
    router.add_post("/api/crm/calls/{id}/deal", deal)
    router.add_post("/api/crm/calls/{id}/spam", spam)
    router.add_post("/api/crm/calls/{id}/outcome", outcome)
    router.add_post("/api/crm/calls/{id}/callback", call_back)

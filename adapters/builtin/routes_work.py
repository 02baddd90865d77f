"""REST routes for deals, pipelines and tasks."""

from __future__ import annotations

from aiohttp import web

from adapters.builtin.activity import DEAL_STATUSES
from adapters.builtin.handlers import caller, config_of, ok, store_of
from adapters.builtin.permissions import CHANGE, check_owner, own_filter
from adapters.builtin.validate import Field, page_of, parse, path_id, query_bool, query_choice, query_id
from connector.api.app import Problem, read_json

DEAL_FIELDS = (
    Field("title", required=True),
    Field("client_id", "id"),
    Field("pipeline_id", "id", True),
    Field("stage"),
    Field("value", "float"),
    Field("currency", max_len=3),
    Field("notes", "text"),
    Field("responsible_id", "id"),
)
DEAL_PATCH = (
    Field("title"),
    Field("pipeline_id", "id"),  # another pipeline: its first stage unless `stage` names one of it
    Field("stage"),
    Field("status", "choice", choices=DEAL_STATUSES),
    Field("value", "float"),
    Field("currency", max_len=3),
    Field("notes", "text"),
    Field("responsible_id", "id"),
    Field("reason", "text"),
)
TASK_FIELDS = (
    Field("title", required=True),
    Field("client_id", "id"),
    Field("deal_id", "id"),
    Field("assignee_id", "id"),
    Field("deadline", "time"),
)


async def list_pipelines(request: web.Request) -> web.Response:
    """GET /api/crm/pipelines."""
    await caller(request)
    return ok({"items": await store_of(request).deals.pipelines()})


async def list_deals(request: web.Request) -> web.Response:
    """GET /api/crm/deals?client_id=&status= (an employee sees their own)."""
    principal = await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await store_of(request).deals.list(
        query_id(request, "client_id"),
        query_choice(request, "status", DEAL_STATUSES),
        limit=page.per_page,
        offset=page.offset,
        owner=own_filter(principal, "deals"),
    )
    return ok(page.body(rows, total))


async def _check_stage(request: web.Request, pipeline_id: int, stage: str | None) -> None:
    pipeline = await store_of(request).deals.pipeline(pipeline_id)
    if stage is not None and stage not in pipeline["stages"]:
        raise Problem(
            422,
            "Unprocessable Content",
            "",
            errors=[{"field": "stage", "message": f"not a stage of {pipeline['name']}"}],
        )


async def create_deal(request: web.Request) -> web.Response:
    """POST /api/crm/deals {title, pipeline_id, client_id?, stage?, value?, currency?}."""
    principal = await caller(request)
    body = parse(await read_json(request), DEAL_FIELDS)
    store = store_of(request)
    await _check_stage(request, body["pipeline_id"], body.get("stage"))
    if body.get("client_id"):
        await store.clients.get(body["client_id"])
    body.setdefault("responsible_id", principal.employee_id)
    check_owner(principal, "deals", CHANGE, body)
    return ok(await store.deals.create({k: v for k, v in body.items() if v is not None}), 201)


async def update_deal(request: web.Request) -> web.Response:
    """PATCH /api/crm/deals/{id}: move to a stage, close as won/lost/archive, edit."""
    principal = await caller(request)
    deal_id = path_id(request)
    body = parse(await read_json(request), DEAL_PATCH, partial=True)
    store = store_of(request)
    current = await store.deals.get(deal_id)
    check_owner(principal, "deals", CHANGE, current)
    await _check_stage(request, body.get("pipeline_id") or current["pipeline_id"], body.get("stage"))
    if body.get("status") == "lost" and not body.get("reason"):
        raise Problem(
            422, "Unprocessable Content", "", errors=[{"field": "reason", "message": "is required"}]
        )
    if body.get("responsible_id"):
        await store.employees.get(body["responsible_id"])
    return ok(await store.deals.update(deal_id, body, by=principal.employee_id))


async def list_tasks(request: web.Request) -> web.Response:
    """GET /api/crm/tasks?assignee_id=&done=; `mine=1` for the caller's own."""
    principal = await caller(request)
    page = page_of(request, config_of(request).page_size)
    assignee = query_id(request, "assignee_id")
    if query_bool(request, "mine"):
        assignee = principal.employee_id
    rows, total = await store_of(request).notes.tasks(
        assignee,
        query_bool(request, "done"),
        limit=page.per_page,
        offset=page.offset,
        involving=own_filter(principal, "tasks"),
    )
    return ok(page.body(rows, total))


async def create_task(request: web.Request) -> web.Response:
    """POST /api/crm/tasks {title, client_id?, deal_id?, assignee_id?, deadline?}."""
    principal = await caller(request)
    body = parse(await read_json(request), TASK_FIELDS)
    store = store_of(request)
    if body.get("client_id"):
        await store.clients.get(body["client_id"])
    if body.get("deal_id"):
        deal = await store.deals.get(body["deal_id"])
        # a deal's task is also the client's: on their card and in their feed
        body["client_id"] = body.get("client_id") or deal["client_id"]
    body["assignee_id"] = body.get("assignee_id") or principal.employee_id
    if body["assignee_id"] is not None:
        await store.employees.get(body["assignee_id"])
    return ok(await store.notes.add_task(body, principal.employee_id), 201)


async def update_task(request: web.Request) -> web.Response:
    """PATCH /api/crm/tasks/{id} {done}: by its assignee or author (or staff)."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("done", "bool", True),))
    notes = store_of(request).notes
    check_owner(principal, "tasks", CHANGE, await notes.task(path_id(request)))
    return ok(await notes.set_task_done(path_id(request), body["done"], principal.employee_id))


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/pipelines", list_pipelines)
    router.add_get("/api/crm/deals", list_deals)
    router.add_post("/api/crm/deals", create_deal)
    router.add_patch("/api/crm/deals/{id}", update_deal)
    router.add_get("/api/crm/tasks", list_tasks)
    router.add_post("/api/crm/tasks", create_task)
    router.add_patch("/api/crm/tasks/{id}", update_task)

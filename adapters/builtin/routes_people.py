"""REST routes for clients (with their feed and notes) and companies."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from adapters.builtin import indicators
from adapters.builtin.activity import FEED_KINDS, feed
from adapters.builtin.client_filter import FilterError, condition
from adapters.builtin.client_lists import ClientLists
from adapters.builtin.handlers import caller, config_of, ok, store_of
from adapters.builtin.numbers import normalise
from adapters.builtin.permissions import CHANGE, check_owner, own_filter
from adapters.builtin.routes_workspace import check_inn
from adapters.builtin.validate import Field, invalid, page_of, parse, path_id, query_choice, query_id
from connector.api.app import Problem, read_json

CLIENT_FIELDS = (
    Field("name", required=True),
    Field("phones", "phones"),
    Field("email"),
    Field("notes", "text"),
    Field("company_id", "id"),
    Field("responsible_id", "id"),
    Field("emails", "emails"),
)
CLIENT_PATCH = (*CLIENT_FIELDS[:1], *CLIENT_FIELDS[2:])


async def list_clients(request: web.Request) -> web.Response:
    """GET /api/crm/clients?q=&kind=&company_id=&filter=&fields=&archived=&page=&per_page=.

    `filter`: the super-filter's conditions as JSON (client_filter); `fields`: custom columns to
    show (`f12,f13`, at most six), given in each item's `custom`.
    """
    await caller(request)
    store = store_of(request)
    page = page_of(request, config_of(request).page_size)
    kind = query_choice(request, "kind", ("client", "contact"))
    defined = {f["id"]: f for f in await store.custom.definitions("client")}
    rows, total = await store.clients.list(
        request.query.get("q", "").strip(),
        kind,
        query_id(request, "company_id"),
        limit=page.per_page,
        offset=page.offset,
        where_also=_super_filter(request.query.get("filter", ""), defined),
        archived=request.query.get("archived", "") in ("1", "true"),
    )
    keys = [k for k in request.query.get("fields", "").split(",") if k]
    columns = [int(k[1:]) for k in keys if k[:1] == "f" and k[1:].isdigit() and int(k[1:]) in defined][:6]
    values = await store.custom.values_of(columns, [r["id"] for r in rows])
    for row in rows:
        row["custom"] = {f"f{c}": values.get(row["id"], {}).get(c, "") for c in columns}
    return ok(page.body(rows, total))


def _super_filter(raw: str, defined: dict[int, Any]) -> tuple[str, list[Any]] | None:
    """The super-filter's SQL, or None without one (422 naming the bad condition)."""
    if not raw:
        return None
    try:
        conditions = json.loads(raw)
        if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
            raise FilterError(0, "must be a list of conditions")
        return condition(conditions, defined)
    except json.JSONDecodeError as exc:
        raise invalid("filter", "must be JSON") from exc
    except FilterError as exc:
        raise invalid("filter", str(exc)) from exc


async def create_client(request: web.Request) -> web.Response:
    """POST /api/crm/clients {name, phones, ...}: a contact card holding a number is merged in."""
    principal = await caller(request)
    body = parse(await read_json(request), CLIENT_FIELDS)
    store = store_of(request)
    await _check_refs(request, body)
    emails = body.pop("emails", None)
    body["responsible_id"] = body.get("responsible_id") or principal.employee_id
    check_owner(principal, "clients", CHANGE, body)
    client_id = await store.clients.create(
        body.pop("name"),
        body.pop("phones", None) or (),
        responsible_id=body.pop("responsible_id"),
        **{k: v for k, v in body.items() if v is not None},
    )
    if emails:
        await store.clients.update(client_id, {"emails": emails}, by=principal.employee_id)
    client = await store.clients.get(client_id)
    await store.mail.adopt(client_id, client["emails"])  # letters already in from these addresses
    return ok(client, 201)


async def _check_refs(request: web.Request, body: dict[str, object]) -> None:
    """404 for a company or employee that does not exist, before anything is written."""
    store = store_of(request)
    if isinstance(body.get("company_id"), int):
        await store.companies.get(int(str(body["company_id"])))
    if isinstance(body.get("responsible_id"), int):
        await store.employees.get(int(str(body["responsible_id"])))


async def get_client(request: web.Request) -> web.Response:
    """GET /api/crm/clients/{id}: the card with its open deals and open tasks (an employee's own)."""
    principal = await caller(request)
    store = store_of(request)
    client = await store.clients.get(path_id(request))
    deals, _ = await store.deals.list(
        client["id"], None, limit=50, offset=0, owner=own_filter(principal, "deals")
    )
    mine = own_filter(principal, "tasks")
    tasks = await store.db.fetch_all(
        "SELECT * FROM tasks WHERE client_id = ? AND done = 0"
        " AND (? IS NULL OR assignee_id = ? OR author_id = ?) ORDER BY deadline IS NULL, deadline",
        (client["id"], mine, mine, mine),
    )
    figures = await indicators.of_client(
        store.db, client["id"], principal.scope, own_filter(principal, "deals")
    )
    lists = await ClientLists(store.db).of_client(client["id"])
    return ok({**client, "deals": deals, "tasks": tasks, "indicators": figures, "lists": lists})


async def update_client(request: web.Request) -> web.Response:
    """PATCH /api/crm/clients/{id}: naming a contact card makes a client; employees edit their own."""
    principal = await caller(request)
    client_id = path_id(request)
    body = parse(await read_json(request), CLIENT_PATCH, partial=True)
    await _check_refs(request, body)
    store = store_of(request)
    current = await store.clients.get(client_id)
    check_owner(principal, "clients", CHANGE, current)
    if current["kind"] == "contact" and body.get("name"):
        body["kind"] = "client"
    client = await store.clients.update(client_id, body, by=principal.employee_id)
    if "emails" in body or "email" in body:
        await store.mail.adopt(client_id, (await store.clients.get(client_id))["emails"])
    return ok(client)


async def list_lists(request: web.Request) -> web.Response:
    """GET /api/crm/lists: every list of clients with its size."""
    await caller(request)
    return ok({"items": await ClientLists(store_of(request).db).all()})


async def add_to_list(request: web.Request) -> web.Response:
    """POST /api/crm/clients/{id}/lists {name}: put the client in a list (made if new)."""
    principal = await caller(request)
    client_id = path_id(request)
    body = parse(await read_json(request), (Field("name", required=True, max_len=60),))
    store = store_of(request)
    client = await store.clients.get(client_id)
    check_owner(principal, "clients", CHANGE, client)
    if client.get("archived_at"):
        raise Problem(409, "Conflict", "клиент в архиве: карточку архива не меняют")
    try:
        lists = await ClientLists(store.db).add(client_id, body["name"], by=principal.employee_id)
    except ValueError as exc:
        raise invalid("name", str(exc)) from exc
    return ok({"items": lists})


async def remove_from_list(request: web.Request) -> web.Response:
    """DELETE /api/crm/clients/{id}/lists/{list_id}: take the client out of a list."""
    principal = await caller(request)
    client_id = path_id(request)
    store = store_of(request)
    check_owner(principal, "clients", CHANGE, await store.clients.get(client_id))
    list_id = path_id(request, "list_id")
    return ok({"items": await ClientLists(store.db).remove(client_id, list_id, by=principal.employee_id)})


async def archive_client(request: web.Request) -> web.Response:
    """POST /api/crm/clients/{id}/archive: for good, its deals deleted (employees: their own)."""
    principal = await caller(request)
    client_id = path_id(request)
    store = store_of(request)
    check_owner(principal, "clients", CHANGE, await store.clients.get(client_id))
    return ok(await store.clients.archive(client_id, by=principal.employee_id))


async def add_phone(request: web.Request) -> web.Response:
    """POST /api/crm/clients/{id}/phones {phone}: add a number (a contact card's is merged in)."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("phone", "phone", True),))
    clients = store_of(request).clients
    check_owner(principal, "clients", CHANGE, await clients.get(path_id(request)))
    return ok(await clients.add_phone(path_id(request), body["phone"], principal.employee_id))


async def lookup(request: web.Request) -> web.Response:
    """GET /api/crm/lookup?phone=: the client or contact card of a number, or null."""
    await caller(request)
    phone = normalise(request.query.get("phone", ""))
    if not phone:
        raise Problem(422, "Unprocessable Content", "", errors=[{"field": "phone", "message": "is required"}])
    return ok({"phone": phone, "client": await store_of(request).clients.by_phone(phone)})


async def client_feed(request: web.Request) -> web.Response:
    """GET /api/crm/clients/{id}/feed?kind=call,comment&q=: everything about a client, newest first."""
    principal = await caller(request)
    client_id = path_id(request)
    store = store_of(request)
    await store.clients.get(client_id)
    kinds = [k for k in request.query.get("kind", "").split(",") if k] or list(FEED_KINDS)
    wrong = [k for k in kinds if k not in FEED_KINDS]
    if wrong:
        raise Problem(
            422,
            "Unprocessable Content",
            "",
            errors=[{"field": "kind", "message": f"unknown kind {wrong[0]}"}],
        )
    page = page_of(request, config_of(request).page_size)
    rows, total = await feed(
        store.db,
        client_id,
        kinds=kinds,
        q=request.query.get("q", "").strip(),
        extensions=principal.scope,
        limit=page.per_page,
        offset=page.offset,
    )
    return ok(page.body(rows, total))


async def add_comment(request: web.Request) -> web.Response:
    """POST /api/crm/clients/{id}/comments {text}."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("text", "text", True), Field("call_id", max_len=64)))
    store = store_of(request)
    client = await store.clients.get(path_id(request))
    row = await store.notes.add_comment(
        client["id"], body["text"], principal.employee_id, body.get("call_id")
    )
    return ok(row, 201)


REMINDER_FIELDS = (Field("remind_at", "time", True), Field("text", "text"), Field("employee_id", "id"))


async def add_reminder(request: web.Request) -> web.Response:
    """POST /api/crm/clients/{id}/reminders {remind_at, text, employee_id}."""
    principal = await caller(request)
    body = parse(await read_json(request), REMINDER_FIELDS)
    store = store_of(request)
    client = await store.clients.get(path_id(request))
    employee_id = body.get("employee_id") or principal.employee_id
    if employee_id is not None:
        await store.employees.get(employee_id)
    row = await store.notes.add_reminder(client["id"], employee_id, body["remind_at"], body.get("text") or "")
    return ok(row, 201)


async def list_companies(request: web.Request) -> web.Response:
    """GET /api/crm/companies?q=."""
    await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await store_of(request).companies.list(
        request.query.get("q", "").strip(), limit=page.per_page, offset=page.offset
    )
    return ok(page.body(rows, total))


async def create_company(request: web.Request) -> web.Response:
    """POST /api/crm/companies {name, inn}."""
    await caller(request)
    body = parse(await read_json(request), (Field("name"), Field("inn", max_len=12)))
    inn = body.get("inn") or ""
    check_inn(inn)
    if not body.get("name") and not inn:
        raise Problem(
            422, "Unprocessable Content", "", errors=[{"field": "name", "message": "name or INN is required"}]
        )
    company_id = await store_of(request).companies.create(body.get("name") or "", inn)
    return ok(await store_of(request).companies.get(company_id), 201)


async def get_company(request: web.Request) -> web.Response:
    """GET /api/crm/companies/{id}: the company with its people, their calls, deals and tasks."""
    principal = await caller(request)
    return ok(await store_of(request).companies.card(path_id(request), principal.scope))


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/clients", list_clients)
    router.add_post("/api/crm/clients", create_client)
    router.add_get("/api/crm/clients/{id}", get_client)
    router.add_patch("/api/crm/clients/{id}", update_client)
    router.add_post("/api/crm/clients/{id}/phones", add_phone)
    router.add_post("/api/crm/clients/{id}/archive", archive_client)
    router.add_get("/api/crm/lists", list_lists)
    router.add_post("/api/crm/clients/{id}/lists", add_to_list)
    router.add_delete("/api/crm/clients/{id}/lists/{list_id}", remove_from_list)
    router.add_get("/api/crm/clients/{id}/feed", client_feed)
    router.add_post("/api/crm/clients/{id}/comments", add_comment)
    router.add_post("/api/crm/clients/{id}/reminders", add_reminder)
    router.add_get("/api/crm/lookup", lookup)
    router.add_get("/api/crm/companies", list_companies)
    router.add_post("/api/crm/companies", create_company)
    router.add_get("/api/crm/companies/{id}", get_company)

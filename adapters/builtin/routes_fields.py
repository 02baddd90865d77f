"""REST routes of custom fields: their definitions (admins) and their values on cards.

GET    /api/crm/fields?entity=client|company|deal|task  the card's fields, in order (hidden ones too)
POST   /api/crm/fields {entity, label, kind, options?}
PATCH  /api/crm/fields/{id} {label?, options?, hidden?, position?}
DELETE /api/crm/fields/{id}                            the field and all its values
GET    /api/crm/{clients|companies|deals|tasks}/{id}/fields  the card's shown fields with their values
PUT    /api/crm/{clients|companies|deals|tasks}/{id}/fields {values: {field_id: value|null}}
PUT    /api/crm/{...}/{id}/fields/{field_id}/file?name=   a file field's file (the body, ≤ 10 MB)
GET    /api/crm/{...}/{id}/fields/{field_id}/file         that file, as a download
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.builtin import custom_fields, stored_files
from adapters.builtin.custom_fields import ENTITIES, KINDS, FieldError
from adapters.builtin.db import NotFoundError, Row
from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.mail_parse import safe_name
from adapters.builtin.permissions import CHANGE, READ, check_owner
from adapters.builtin.store import Store
from adapters.builtin.validate import Field, invalid, parse, path_id, query_choice
from connector.api.app import Problem, read_json

PLURALS = {"clients": "client", "companies": "company", "deals": "deal", "tasks": "task"}


def _refused(exc: FieldError) -> Problem:
    return invalid(exc.field, str(exc))


async def list_fields(request: web.Request) -> web.Response:
    """GET /api/crm/fields?entity=."""
    await caller(request)
    entity = query_choice(request, "entity", ENTITIES) or "client"
    return ok({"items": await store_of(request).custom.definitions(entity)})


async def define(request: web.Request) -> web.Response:
    """POST /api/crm/fields {entity, label, kind, options?}."""
    await caller(request)
    body = parse(
        await read_json(request),
        (
            Field("entity", "choice", True, choices=ENTITIES),
            Field("label", required=True),
            Field("kind", "choice", True, choices=KINDS),
            Field("options", "names"),
        ),
    )
    try:
        made = await store_of(request).custom.define(
            body["entity"], body["label"], body["kind"], body.get("options")
        )
    except FieldError as exc:
        raise _refused(exc) from exc
    return ok(made, 201)


async def change(request: web.Request) -> web.Response:
    """PATCH /api/crm/fields/{id} {label?, options?, hidden?, position?}."""
    await caller(request)
    body = parse(
        await read_json(request),
        (Field("label"), Field("options", "names"), Field("hidden", "bool"), Field("position", "int")),
        partial=True,
    )
    try:
        return ok(await store_of(request).custom.change(path_id(request), body))
    except FieldError as exc:
        raise _refused(exc) from exc


async def remove(request: web.Request) -> web.Response:
    """DELETE /api/crm/fields/{id}."""
    await caller(request)
    await store_of(request).custom.remove(path_id(request))
    return web.Response(status=204)


async def _record(request: web.Request, action: str) -> tuple[str, Row]:
    """The card's entity and record, once the caller may `action` it."""
    principal = await caller(request)
    plural = request.path.split("/")[3]  # /api/crm/<plural>/<id>/fields[/<field_id>/file]
    entity = PLURALS[plural]
    store: Store = store_of(request)
    record_id = path_id(request)
    record: Row
    if entity == "client":
        record = await store.clients.get(record_id)
    elif entity == "company":
        record = await store.companies.get(record_id)
    elif entity == "deal":
        record = await store.deals.get(record_id)
    else:
        record = await store.notes.task(record_id)
    check_owner(principal, plural, action, record)
    return entity, record


async def record_fields(request: web.Request) -> web.Response:
    """GET /api/crm/{entity}/{id}/fields."""
    entity, record = await _record(request, READ)
    return ok({"items": await store_of(request).custom.of_record(entity, record["id"])})


async def set_values(request: web.Request) -> web.Response:
    """PUT /api/crm/{entity}/{id}/fields {values: {field_id: value}}."""
    entity, record = await _record(request, CHANGE)
    body = await read_json(request)
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, dict) or len(values) > 100 or set(body) != {"values"}:
        raise invalid("values", "must be an object of field ids and values")
    parsed: dict[int, Any] = {}
    for key, value in values.items():
        if not str(key).isdigit():
            raise invalid("values", f"{key!r} is not a field id")
        parsed[int(key)] = value
    principal = await caller(request)
    try:
        items = await store_of(request).custom.set_values(entity, record, parsed, principal.employee_id)
    except FieldError as exc:
        raise _refused(exc) from exc
    return ok({"items": items})


async def put_file(request: web.Request) -> web.Response:
    """PUT /api/crm/{entity}/{id}/fields/{field_id}/file?name=: the body is the file (at most 10 MB)."""
    entity, record = await _record(request, CHANGE)
    name = safe_name(request.query.get("name", "").strip() or "файл")[: custom_fields.MAX_FILE_NAME]
    field_id = path_id(request, "field_id")
    store: Store = store_of(request)
    field = await store.custom.get(field_id)  # 404 before the body is read
    if field["entity"] != entity or field["kind"] != "file":
        raise invalid("field_id", f"not a file field of a {entity}")
    data = await stored_files.read_upload(request, custom_fields.MAX_FILE_BYTES)
    if not data:
        raise invalid("file", "the file is empty")
    digest = await stored_files.keep(_files(store), data)
    principal = await caller(request)
    stored = custom_fields.StoredFile(name, digest, len(data))
    try:
        items = await store.custom.set_file(entity, record, field_id, stored, by=principal.employee_id)
    except FieldError as exc:
        raise _refused(exc) from exc
    return ok({"items": items})


async def get_file(request: web.Request) -> web.StreamResponse:
    """GET /api/crm/{entity}/{id}/fields/{field_id}/file: the file, as a download."""
    _, record = await _record(request, READ)
    store: Store = store_of(request)
    row = await store.custom.file_of(path_id(request, "field_id"), record["id"])
    path = stored_files.path_of(_files(store), row["sha256"])
    if not path.is_file():
        raise NotFoundError("file", row["sha256"][:12])
    return stored_files.download(path, row["name"])


def _files(store: Store) -> Path:
    return store.db.files_dir / "card-files"


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/fields", list_fields)
    router.add_post("/api/crm/fields", define)
    router.add_patch("/api/crm/fields/{id}", change)
    router.add_delete("/api/crm/fields/{id}", remove)
    for plural in PLURALS:
        router.add_get(f"/api/crm/{plural}/{{id}}/fields", record_fields)
        router.add_put(f"/api/crm/{plural}/{{id}}/fields", set_values)
        router.add_put(f"/api/crm/{plural}/{{id}}/fields/{{field_id}}/file", put_file)
        router.add_get(f"/api/crm/{plural}/{{id}}/fields/{{field_id}}/file", get_file)

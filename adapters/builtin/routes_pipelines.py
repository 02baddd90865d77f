"""REST routes that edit pipelines (admins and managers; everyone reads them: GET /api/crm/pipelines).

POST   /api/crm/pipelines {name, stages?}            a new pipeline (the manual's three stages)
PATCH  /api/crm/pipelines/{id} {name?, order?}       rename; stages in a new order
DELETE /api/crm/pipelines/{id}                       an empty pipeline (409 while it holds deals)
POST   /api/crm/pipelines/{id}/stages {name}         a stage at the end (at most eight)
PATCH  /api/crm/pipelines/{id}/stages {from, to}     rename a stage, on its deals too
DELETE /api/crm/pipelines/{id}/stages/{name}         a stage no deal is on (409 otherwise)
"""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from adapters.builtin.db import Row
from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.pipelines import PipelineError
from adapters.builtin.validate import Field, invalid, parse, path_id
from connector.api.app import read_json


async def _answer(work: Awaitable[Row], status: int = 200) -> web.Response:
    try:
        return ok(await work, status)
    except PipelineError as exc:
        raise invalid(exc.field, str(exc)) from exc


async def create(request: web.Request) -> web.Response:
    """POST /api/crm/pipelines {name, stages?}."""
    await caller(request)
    body = parse(await read_json(request), (Field("name", required=True), Field("stages", "names")))
    return await _answer(store_of(request).pipeline_settings.create(body["name"], body.get("stages")), 201)


async def update(request: web.Request) -> web.Response:
    """PATCH /api/crm/pipelines/{id} {name?, order?}."""
    await caller(request)
    body = parse(await read_json(request), (Field("name"), Field("order", "names")), partial=True)
    work = store_of(request).pipeline_settings.update(path_id(request), body.get("name"), body.get("order"))
    return await _answer(work)


async def delete(request: web.Request) -> web.Response:
    """DELETE /api/crm/pipelines/{id}."""
    await caller(request)
    await store_of(request).pipeline_settings.delete(path_id(request))
    return web.Response(status=204)


async def add_stage(request: web.Request) -> web.Response:
    """POST /api/crm/pipelines/{id}/stages {name}."""
    await caller(request)
    body = parse(await read_json(request), (Field("name", required=True),))
    return await _answer(store_of(request).pipeline_settings.add_stage(path_id(request), body["name"]), 201)


async def rename_stage(request: web.Request) -> web.Response:
    """PATCH /api/crm/pipelines/{id}/stages {from, to}."""
    await caller(request)
    body = parse(await read_json(request), (Field("from", required=True), Field("to", required=True)))
    work = store_of(request).pipeline_settings.rename_stage(path_id(request), body["from"], body["to"])
    return await _answer(work)


async def remove_stage(request: web.Request) -> web.Response:
    """DELETE /api/crm/pipelines/{id}/stages/{name}."""
    await caller(request)
    work = store_of(request).pipeline_settings.remove_stage(path_id(request), request.match_info["name"])
    return await _answer(work)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_post("/api/crm/pipelines", create)
    router.add_patch("/api/crm/pipelines/{id}", update)
    router.add_delete("/api/crm/pipelines/{id}", delete)
    router.add_post("/api/crm/pipelines/{id}/stages", add_stage)
    router.add_patch("/api/crm/pipelines/{id}/stages", rename_stage)
    router.add_delete("/api/crm/pipelines/{id}/stages/{name}", remove_stage)

"""Routes for other offices' connectors: POST /api/crm/ingest, GET /api/crm/ingest/contact (their
interception) and the admins' token list (offices.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from adapters.builtin import board
from adapters.builtin.db import now_iso
from adapters.builtin.handlers import ok, store_of
from adapters.builtin.numbers import normalise
from adapters.builtin.offices import IngestTokens
from adapters.builtin.validate import Field, invalid, parse, path_id
from connector.api.app import HUB_KEY, Problem, read_json
from connector.calls.model import call_from_dict, live_from_dict


async def _office(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    office = await IngestTokens(store_of(request).db).office_of(token.strip()) if scheme == "Bearer" else None
    if office is None:
        raise Problem(401, "Unauthorized", "a connector token issued by this CRM is required")
    return office


async def ingest(request: web.Request) -> web.Response:
    """POST /api/crm/ingest: a `webhook` adapter's delivery (call.finished, call.live, call.recording)."""
    office = await _office(request)
    body = await read_json(request)
    event = body.get("event")
    store = store_of(request)
    if event == "call.finished":
        try:
            call = call_from_dict(_object(body, "call"))
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid("call", f"not a call record: {exc!r}") from exc
        call_id = f"{office}:{call.id}"
        known = await store.db.scalar("SELECT 1 FROM calls WHERE id = ?", (call_id,))
        row = await store.calls.save(replace(call, id=call_id), office)
        if not known:
            await board.missed_call_task(store.db, row)
        answer: dict[str, Any] = {"id": call_id, "pbx": office, "created": not known}
    elif event == "call.live":
        try:
            live = live_from_dict(_object(body, "live"))
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid("live", f"not a live event: {exc!r}") from exc
        if HUB_KEY in request.app:
            request.app[HUB_KEY].publish(replace(live, call_id=f"{office}:{live.call_id}", pbx=office))
        answer = {"pbx": office}
    elif event == "call.recording":
        answer = {"pbx": office, "kept": False}  # links to another office's connector expire
    else:
        raise invalid("event", "one of call.finished, call.live, call.recording")
    await store.db.write("UPDATE ingest_tokens SET last_used_at = ? WHERE pbx = ?", (now_iso(), office))
    return ok(answer)


async def contact(request: web.Request) -> web.Response:
    """GET /api/crm/ingest/contact?phone=: whose client this caller is, for another office's
    interception. The responsible's extension is given only when their phone is on that office's
    PBX (Сотрудники → Офис): ringing it there would ring someone else's phone, or nobody's."""
    office = await _office(request)
    phone = normalise(request.query.get("phone", ""))
    if not phone:
        raise invalid("phone", "a phone number")
    store = store_of(request)
    row = await store.clients.by_phone(phone)
    if row is None:
        return ok({"contact": None})
    extension = row["responsible_extension"]
    if extension and await store.employees.office_of(extension) != office:
        extension = None
    found = {"id": str(row["id"]), "name": row["name"], "kind": row["kind"]}
    return ok({"contact": {**found, "responsible_extension": extension}})


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise invalid(name, "must be an object")
    return value


async def list_tokens(request: web.Request) -> web.Response:
    """GET /api/crm/ingest/tokens: the offices that may deliver here (admins)."""
    return ok({"items": await IngestTokens(store_of(request).db).list()})


async def issue_token(request: web.Request) -> web.Response:
    """POST /api/crm/ingest/tokens {pbx}: a new token for an office, shown this once (admins)."""
    body = parse(await read_json(request), (Field("pbx", required=True, max_len=32),))
    return ok(await IngestTokens(store_of(request).db).issue(body["pbx"]), 201)


async def revoke_token(request: web.Request) -> web.Response:
    """DELETE /api/crm/ingest/tokens/{id} (admins)."""
    await IngestTokens(store_of(request).db).revoke(path_id(request))
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount the ingest and token routes."""
    router.add_post("/api/crm/ingest", ingest)
    router.add_get("/api/crm/ingest/contact", contact)
    router.add_get("/api/crm/ingest/tokens", list_tokens)
    router.add_post("/api/crm/ingest/tokens", issue_token)
    router.add_delete("/api/crm/ingest/tokens/{id}", revoke_token)

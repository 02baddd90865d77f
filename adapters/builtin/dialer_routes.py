"""REST routes of auto-dial lists ("обзвоны", manual §2.4) and the dialer task's lifetime.

Who may do what follows the manual: anyone makes a list; only its one employee (or a manager or
admin) starts, stops and resumes it, and anyone may take over a created or paused list that has
nobody; only the dialling employee changes the pause; the author, a manager or an admin skips a
number or archives the list; another employee is assigned only while the list is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from adapters.builtin import dialer_numbers
from adapters.builtin.db import ConflictError, Database, Row, now_iso
from adapters.builtin.dialer_plan import MAX_ENTRIES, check_settings
from adapters.builtin.dialer_store import LIST_STATES, DialerStore
from adapters.builtin.dialer_worker import Dialer
from adapters.builtin.handlers import caller, config_of, ok, store_of
from adapters.builtin.validate import Field, invalid, page_of, parse, path_id, query_choice
from connector.api.app import Problem, read_json
from connector.api.auth import Principal
from connector.errors import NotPermittedError

P = "/api/crm/dialer/lists"
DIALER_KEY = web.AppKey("builtin_dialer", Dialer)
SOURCE_KEYS = ("filter", "numbers", "csv")
SETTING_FIELDS = (
    Field("name", max_len=200),
    Field("employee_id", "id"),
    Field("pause_seconds", "int"),  # null: «∞»
    Field("retry_minutes", "int"),
    Field("max_attempts", "int"),
)


def dialer_store(request: web.Request) -> DialerStore:
    """The dialer's tables."""
    return DialerStore(store_of(request).db)


def _allowed(request: web.Request) -> Any:
    control = config_of(request).call_control
    if control is None:
        return lambda _: True

    def allowed(phone: str) -> bool:
        try:
            control.check_number(phone)
        except NotPermittedError:
            return False
        return True

    return allowed


async def _numbers(request: web.Request, body: dict[str, Any]) -> dialer_numbers.Numbers:
    given = [k for k in SOURCE_KEYS if body.get(k)]
    if len(given) != 1:
        raise invalid("numbers", "укажите одно: условия отбора клиентов, CSV-файл или столбец номеров")
    kind, value = given[0], body[given[0]]
    db = store_of(request).db
    if kind == "filter":
        if not isinstance(value, dict) or any(k not in dialer_numbers.FILTER_KEYS for k in value):
            raise invalid("filter", f"условия: {', '.join(dialer_numbers.FILTER_KEYS)}")
        return await dialer_numbers.from_filter(db, value, _allowed(request))
    if not isinstance(value, str) or len(value) > dialer_numbers.MAX_TEXT:
        raise invalid(kind, f"текст не длиннее {dialer_numbers.MAX_TEXT} символов")
    lines = dialer_numbers.csv_numbers(value) if kind == "csv" else dialer_numbers.column(value)
    return await dialer_numbers.from_text(db, lines, _allowed(request))


async def _split(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    raw = await read_json(request)
    sources = {k: raw.pop(k) for k in SOURCE_KEYS if k in raw}
    endless = "pause_seconds" in raw and raw["pause_seconds"] is None  # «∞»
    if endless:
        del raw["pause_seconds"]
    body = parse(raw, SETTING_FIELDS, partial=True)
    return ({**body, "pause_seconds": None} if endless else body), sources


def _settings(body: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **body}
    problem = check_settings(merged["pause_seconds"], merged["retry_minutes"], merged["max_attempts"])
    if problem:
        raise invalid("pause_seconds", problem)
    return merged


async def preview(request: web.Request) -> web.Response:
    """POST …/preview {filter | numbers | csv}: how many numbers, and what is left out and why."""
    await caller(request)
    _, sources = await _split(request)
    return ok((await _numbers(request, sources)).summary())


async def create(request: web.Request) -> web.Response:
    """POST /api/crm/dialer/lists {name, employee_id?, pause_seconds, retry_minutes, max_attempts, source}."""
    principal = await caller(request)
    body, sources = await _split(request)
    if not body.get("name"):
        raise invalid("name", "назовите обзвон")
    fields = _settings(body, {"pause_seconds": 20, "retry_minutes": 30, "max_attempts": 2})
    if fields.get("employee_id"):
        await store_of(request).employees.get(fields["employee_id"])
    found = await _numbers(request, sources)
    if found.too_many:
        raise invalid("numbers", f"больше {MAX_ENTRIES} номеров: сузьте условия")
    if not found.numbers:
        raise invalid("numbers", "нет ни одного номера, который можно набрать")
    kind = next(k for k in SOURCE_KEYS if sources.get(k))
    source = {"kind": kind, **found.summary(), **({"filter": sources["filter"]} if kind == "filter" else {})}
    row = await dialer_store(request).create(
        {**fields, "author_id": principal.employee_id, "source": source}, found.numbers
    )
    return ok(row, 201)


async def list_lists(request: web.Request) -> web.Response:
    """GET /api/crm/dialer/lists?state=: newest first, each with counts by result."""
    await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await dialer_store(request).lists(
        query_choice(request, "state", LIST_STATES), page.per_page, page.offset
    )
    return ok(page.body(rows, total))


async def get_list(request: web.Request) -> web.Response:
    """GET /api/crm/dialer/lists/{id}?page=: the list and its numbers."""
    await caller(request)
    store = dialer_store(request)
    row = await store.get(path_id(request))
    page = page_of(request, 100)
    entries, total = await store.entries(row["id"], page.per_page, page.offset)
    return ok({**row, "entries": page.body(entries, total)})


def _staff(principal: Principal) -> bool:
    return principal.role in ("admin", "manager")


def _may_drive(principal: Principal, row: Row) -> bool:
    """Start/stop/resume: its employee, a manager or admin; a list without one: anyone."""
    return _staff(principal) or row["employee_id"] in (None, principal.employee_id)


def _may_manage(principal: Principal, row: Row) -> bool:
    """Skip a number, archive: the author, a manager or admin."""
    return _staff(principal) or (
        principal.employee_id is not None and row["author_id"] == principal.employee_id
    )


def _refuse(why: str) -> Problem:
    return Problem(403, "Forbidden", why)


async def _start(request: web.Request, principal: Principal, row: Row) -> Row:
    if config_of(request).call_control is None:
        raise Problem(503, "Service Unavailable", "звонки из CRM не настроены (call_control)")
    changes: dict[str, Any] = {"state": "running", "reason": "", "hold": 0, "next_at": None, "streak": 0}
    employee = row["employee_id"]
    if employee is None:
        employee = changes["employee_id"] = principal.employee_id
    if employee is None:
        raise invalid("employee_id", "назначьте сотрудника, который будет звонить")
    busy = await dialer_store(request).db.fetch_one(
        "SELECT name FROM dial_lists WHERE employee_id = ? AND state = 'running' AND id <> ?",
        (employee, row["id"]),
    )
    if busy is not None:
        raise ConflictError(f"у сотрудника уже идёт обзвон «{busy['name']}»")
    return await dialer_store(request).update(row["id"], changes, when=("created", "paused"))


async def action(request: web.Request) -> web.Response:
    """POST …/{id}/start|pause|next|archive (resume = start of a paused list)."""
    principal = await caller(request)
    store = dialer_store(request)
    row = await store.get(path_id(request))
    name = request.match_info["action"]
    if name in ("start", "resume", "pause", "next") and not _may_drive(principal, row):
        raise _refuse("обзвон ведёт другой сотрудник: остановить его может он, менеджер или администратор")
    if name in ("start", "resume"):
        row = await _start(request, principal, row)
    elif name == "pause":
        row = await store.update(row["id"], {"state": "paused", "reason": ""}, when=("running",))
    elif name == "next":
        row = await store.update(row["id"], {"hold": 0, "next_at": now_iso()}, when=("running",))
    elif name == "archive":
        if not _may_manage(principal, row):
            raise _refuse("в архив отправляет автор обзвона, менеджер или администратор")
        row = await store.update(row["id"], {"state": "archived"}, when=("created", "paused", "done"))
    else:
        raise Problem(404, "Not Found", "действия: start, resume, pause, next, archive")
    _wake(request)
    return ok(row)


async def change(request: web.Request) -> web.Response:
    """PATCH …/{id} {name?, pause_seconds?, retry_minutes?, max_attempts?, employee_id?}."""
    principal = await caller(request)
    store = dialer_store(request)
    row = await store.get(path_id(request))
    body, sources = await _split(request)
    if sources:
        raise invalid("numbers", "номера обзвона не меняются: создайте новый")
    if "pause_seconds" in body and row["employee_id"] != principal.employee_id:
        raise _refuse("паузу меняет только сотрудник, который ведёт обзвон")
    if "employee_id" in body:
        if not (_may_manage(principal, row) or _may_drive(principal, row)):
            raise _refuse("назначает сотрудника автор обзвона, менеджер или администратор")
        if row["state"] == "running":
            raise ConflictError("чтобы открепить сотрудника, остановите обзвон")
        if body["employee_id"] is not None:
            await store_of(request).employees.get(body["employee_id"])
    if not body:
        return ok(row)
    _settings(body, row)
    row = await store.update(row["id"], body, when=("created", "running", "paused"))
    _wake(request)
    return ok(row)


async def skip(request: web.Request) -> web.Response:
    """POST …/{id}/entries/{entry}/skip: take a waiting number out of the list."""
    principal = await caller(request)
    store = dialer_store(request)
    row = await store.get(path_id(request))
    if not _may_manage(principal, row):
        raise _refuse("исключить клиента может автор обзвона, менеджер или администратор")
    entry = await store.skip(row["id"], path_id(request, "entry"))
    _wake(request)
    return ok(entry)


def _wake(request: web.Request) -> None:
    dialer = request.app.get(DIALER_KEY)
    if dialer is not None:
        dialer.wake()


def configure(app: web.Application, db: Database, control: Any) -> None:
    """With call control: a dialer on `db`, run while the app runs (call before the app starts)."""
    if control is None:
        return
    app[DIALER_KEY] = Dialer(DialerStore(db), control)
    app.cleanup_ctx.append(_lifetime)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    dialer = app[DIALER_KEY]
    task = asyncio.create_task(dialer.run(), name="dialer")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get(P, list_lists)
    router.add_post(f"{P}/preview", preview)
    router.add_post(P, create)
    router.add_get(f"{P}/{{id}}", get_list)
    router.add_patch(f"{P}/{{id}}", change)
    router.add_post(f"{P}/{{id}}/entries/{{entry}}/skip", skip)
    router.add_post(f"{P}/{{id}}/{{action}}", action)

"""The call log as a spreadsheet: GET /api/crm/calls.csv with the calls list's own filters.

What the list shows, a row per call, newest first, in the company's time zone and Russian headers, so
a manager opens it in a spreadsheet program as it is. An employee exports only their own calls
(the list's scope); an export stops at `EXPORT_MAX` rows and says so in its last line.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from aiohttp import web

from adapters.builtin.db import Row
from adapters.builtin.handlers import caller, store_of
from adapters.builtin.importer import safe_cell
from adapters.builtin.routes_analytics import company_zone, ready
from adapters.builtin.routes_calls import call_filter

EXPORT_MAX = 100_000  # rows in one file (a year of a busy office); narrow the period for more
PAGE = 2_000  # rows read per query

COLUMNS = (
    "Дата и время",
    "Тип",
    "Номер",
    "Клиент",
    "Линия",
    "Сотрудник",
    "Итог",
    "Причина",
    "Ожидание, с",
    "Разговор, с",
    "Запись",
    "Офис",
    "ID звонка",
)
KINDS = {"inbound": "входящий", "outbound": "исходящий", "internal": "внутренний"}
OUTCOMES = {
    "answered": "отвечен",
    "missed": "пропущен",
    "no-answer": "нет ответа",
    "busy": "занято",
    "failed": "не состоялся",
    "cancelled": "отменён",
}


async def export_calls(request: web.Request) -> web.StreamResponse:
    """GET /api/crm/calls.csv?type=&from=&to=&employee=&...: the filtered call log as CSV."""
    principal = await caller(request)
    wanted = call_filter(request, principal)
    calls = store_of(request).calls
    rows: list[Row] = []
    total = 0
    while len(rows) < EXPORT_MAX:
        page, total = await calls.list(wanted, limit=min(PAGE, EXPORT_MAX - len(rows)), offset=len(rows))
        rows += page
        if len(page) == 0 or len(rows) >= total:
            break
    store = store_of(request)
    await ready(request)  # the analytics tables (tracking numbers) are made on first use
    names = Names(
        employees={str(e["extension"]): str(e["name"]) for e in await store.employees.list()},
        lines={
            str(r["number"]).lstrip("+"): str(r["name"] or r["number"])
            for r in await store.db.fetch_all("SELECT number, name FROM tracking_numbers")
        },
    )
    body = await asyncio.to_thread(to_csv, rows, total, await company_zone(request), names)
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
    )


@dataclass(frozen=True, slots=True)
class Names:
    """What the CRM calls an extension (its employee) and a DID (its line)."""

    employees: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)


def to_csv(rows: list[Row], total: int, tz: tzinfo, names: Names | None = None) -> bytes:
    """The rows as CSV (UTF-8 with a BOM, `;`-separated as Russian spreadsheet programs expect)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(value) for value in _cells(row, tz, names or Names())])
    if total > len(rows):
        writer.writerow([f"… и ещё {total - len(rows)} звонков: выберите период покороче"])
    return out.getvalue().encode("utf-8-sig")


def _cells(row: Row, tz: tzinfo, names: Names) -> list[object]:
    started = datetime.fromisoformat(str(row["started_at"])).astimezone(tz)
    did, ext = str(row.get("did") or ""), str(row.get("employee") or "")
    return [
        started.strftime("%d.%m.%Y %H:%M:%S"),
        KINDS.get(str(row["direction"]), row["direction"]),
        row["phone"],
        row.get("client_name") or "",
        names.lines.get(did.lstrip("+"), did),
        f"{names.employees[ext]} ({ext})" if ext in names.employees else ext,
        OUTCOMES.get(str(row["disposition"]), row["disposition"]),
        row.get("reason") or "",
        round(float(row.get("wait_seconds") or 0)),
        round(float(row.get("talk_seconds") or 0)),
        "да" if row.get("recording") else "",
        row.get("pbx") or "",
        row["id"],
    ]


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount this route (before /api/crm/calls/{id})."""
    router.add_get("/api/crm/calls.csv", export_calls)

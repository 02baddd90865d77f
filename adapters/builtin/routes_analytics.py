"""REST routes and the page for analytics, tracking numbers and ad campaigns (admins and managers).

`configure(app, lines, clock=..., tz=...)` sets the tracking numbers from `numbering.lines`,
the clock that says what "today" is, and the company's time zone; without it the system clock,
the server's time zone and no configured numbers are used.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from adapters.builtin import analytics, offices, rollups, routes_imports
from adapters.builtin.analytics_rollup import RollupFigures
from adapters.builtin.board import get_settings
from adapters.builtin.campaigns import Campaigns, TrackingNumbers, ensure_schema
from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.numbers import normalise
from adapters.builtin.periods import (
    CONFIG_KEY,
    AnalyticsConfig,
    Clock,
    Period,
    config_of,
    local_tz,
    system_clock,
    this_month,
    today,
)
from adapters.builtin.validate import Field, invalid, parse, path_id, query_choice, query_id
from connector.api.app import Problem, read_json
from connector.api.auth import Principal
from connector.config import PBX_ID, Line

PAGE = Path(__file__).with_name("static") / "analytics.html"


def configure(
    app: web.Application, lines: Iterable[Line] = (), *, clock: Clock | None = None, tz: tzinfo | None = None
) -> None:
    """Set the tracking numbers (from `numbering.lines`), clock and time zone; before the app starts."""
    app[CONFIG_KEY] = AnalyticsConfig(
        tuple((line.number, line.name) for line in lines), clock or system_clock, tz or local_tz()
    )


async def ready(request: web.Request) -> None:
    """Make sure the analytics tables exist (first request after start)."""
    await ensure_schema(store_of(request).db, config_of(request).lines)


async def manager(request: web.Request) -> Principal:
    """The caller, who must be an admin or a manager (the manual: analytics and campaigns are theirs)."""
    principal = await caller(request)
    if not principal.sees_all:
        raise Problem(403, "Forbidden", "analytics and campaigns are for admins and managers")
    await ready(request)
    request[ZONE] = await company_zone(request)
    return principal


ZONE = web.RequestKey("company_zone", tzinfo)


async def company_zone(request: web.Request) -> tzinfo:
    """The company's time zone (a setting of the CRM), else the configured one (the server's)."""
    name = (await get_settings(store_of(request).db))["timezone"]
    try:
        return ZoneInfo(name) if name else config_of(request).tz
    except (ZoneInfoNotFoundError, ValueError):
        return config_of(request).tz


def zone(request: web.Request) -> tzinfo:
    """The time zone of this request's days and periods ("today", "this month")."""
    return request.get(ZONE) or config_of(request).tz


def period_of(request: web.Request) -> Period:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD` (local days, both included); default: this month so far."""
    config = config_of(request)
    day = today(config.clock, zone(request))
    default = this_month(day, zone(request))
    first = _query_date(request, "from") or default.first
    last = _query_date(request, "to") or (day if first <= day else first)
    try:
        return Period(first, last, zone(request))
    except ValueError as exc:
        raise invalid("to", str(exc)) from exc


def _query_date(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise invalid(name, "must be a date, YYYY-MM-DD") from exc


# -- reports -------------------------------------------------------------------------------------


def office(request: web.Request) -> str | None:
    """`?pbx=`: one office's calls only (absent: every office)."""
    raw = request.query.get("pbx")
    if raw is None:
        return None
    if raw and not PBX_ID.fullmatch(raw):
        raise invalid("pbx", "an office id: letters, digits, '.', '_' or '-'")
    return raw


def figures(request: web.Request) -> RollupFigures:
    """The call figures of this request's office."""
    return RollupFigures(store_of(request).db, office(request))


async def summary(request: web.Request) -> web.Response:
    """GET /api/crm/analytics/summary?from=&to=&pbx=."""
    await manager(request)
    config = config_of(request)
    db, pbx = store_of(request).db, office(request)
    return ok(await analytics.summary(db, period_of(request), config.clock(), figures(request), pbx))


async def funnel(request: web.Request) -> web.Response:
    """GET /api/crm/analytics/funnel?from=&to=&pipeline_id=."""
    await manager(request)
    return ok(
        await analytics.funnel(store_of(request).db, period_of(request), query_id(request, "pipeline_id"))
    )


async def employees(request: web.Request) -> web.Response:
    """GET /api/crm/analytics/employees?from=&to=&sort=&order=asc|desc&pbx=."""
    await manager(request)
    sort = query_choice(request, "sort", analytics.SORT_KEYS) or "answered"
    order = query_choice(request, "order", ("asc", "desc")) or "desc"
    db = store_of(request).db
    return ok(await analytics.employees(db, period_of(request), sort, order == "desc", figures(request)))


async def lines(request: web.Request) -> web.Response:
    """GET /api/crm/analytics/lines?from=&to=&pbx=: incoming calls per tracking number."""
    await manager(request)
    return ok(await analytics.lines(store_of(request).db, period_of(request), figures(request)))


async def offices_list(request: web.Request) -> web.Response:
    """GET /api/crm/analytics/offices: the offices (PBX ids) with calls, for the `pbx` filter."""
    await manager(request)
    db = store_of(request).db
    await rollups.ensure_current(db, zone(request))
    return ok({"items": await offices.offices(db)})


async def rebuild(request: web.Request) -> web.Response:
    """POST /api/crm/analytics/rebuild: recount the rollups from the calls (after a restore)."""
    await manager(request)
    db = store_of(request).db
    began = time.perf_counter()
    await rollups.rebuild(db, zone(request))
    return ok({"zone": rollups.zone_key(zone(request)), "seconds": round(time.perf_counter() - began, 3)})


# -- tracking numbers ------------------------------------------------------------------------------

NUMBER_FIELDS = (Field("number", "phone", True), Field("name", max_len=100))


async def list_numbers(request: web.Request) -> web.Response:
    """GET /api/crm/tracking-numbers."""
    await caller(request)
    await ready(request)
    return ok({"items": await TrackingNumbers(store_of(request).db).list()})


async def add_number(request: web.Request) -> web.Response:
    """POST /api/crm/tracking-numbers {number, name} (admins)."""
    await _admin(request)
    body = parse(await read_json(request), NUMBER_FIELDS)
    return ok(await TrackingNumbers(store_of(request).db).add(body["number"], body.get("name") or ""), 201)


async def rename_number(request: web.Request) -> web.Response:
    """PATCH /api/crm/tracking-numbers/{number} {name} (admins)."""
    await _admin(request)
    body = parse(await read_json(request), (Field("name", required=True, max_len=100),))
    number = normalise(request.match_info["number"])
    return ok(await TrackingNumbers(store_of(request).db).rename(number, body["name"]))


async def _admin(request: web.Request) -> None:
    principal = await caller(request)
    if not principal.is_admin:
        raise Problem(403, "Forbidden", "only admins edit tracking numbers")
    await ready(request)


# -- campaigns ---------------------------------------------------------------------------------------

CAMPAIGN_FIELDS = (
    Field("name", required=True),
    Field("numbers", "phones", True),
    Field("starts_on", required=True, max_len=10),
    Field("ends_on", max_len=10),
    Field("budget", "float"),
)


async def list_campaigns(request: web.Request) -> web.Response:
    """GET /api/crm/campaigns?from=&to=&pbx=: every campaign, those in the period with their costs."""
    await manager(request)
    period = period_of(request)
    store = Campaigns(store_of(request).db)
    day = today(config_of(request).clock, zone(request))
    source = figures(request)
    await source.ready(zone(request))
    in_period = await store.in_period(period, day, source.unique_callers)
    return ok({"items": await store.all(), "in_period": in_period, **period.as_dict()})


async def create_campaign(request: web.Request) -> web.Response:
    """POST /api/crm/campaigns {name, numbers, starts_on, ends_on?, budget?}."""
    await manager(request)
    body = await _campaign_body(request, partial=False)
    return ok(await Campaigns(store_of(request).db).create(body), 201)


async def update_campaign(request: web.Request) -> web.Response:
    """PATCH /api/crm/campaigns/{id}: edit; a later end date restores an ended campaign."""
    await manager(request)
    campaigns = Campaigns(store_of(request).db)
    current = await campaigns.get(path_id(request))
    body = await _campaign_body(request, partial=True, current=current)
    return ok(await campaigns.update(current["id"], body))


async def end_campaign(request: web.Request) -> web.Response:
    """POST /api/crm/campaigns/{id}/end: the end date becomes today."""
    await manager(request)
    config = config_of(request)
    campaigns = Campaigns(store_of(request).db)
    current = await campaigns.get(path_id(request))
    day = max(today(config.clock, zone(request)), date.fromisoformat(current["starts_on"]))
    return ok(await campaigns.end(current["id"], day))


async def delete_campaign(request: web.Request) -> web.Response:
    """DELETE /api/crm/campaigns/{id}: gone for good."""
    await manager(request)
    await Campaigns(store_of(request).db).delete(path_id(request))
    return web.Response(status=204)


async def _campaign_body(
    request: web.Request, *, partial: bool, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    raw = await read_json(request)
    # null clears the end date (the campaign is active again) or the budget (not known yet)
    cleared: dict[str, Any] = {k: None for k in ("ends_on", "budget") if k in raw and raw[k] is None}
    body = parse({k: v for k, v in raw.items() if k not in cleared}, CAMPAIGN_FIELDS, partial=partial)
    body.update(cleared)
    for name in ("starts_on", "ends_on"):
        if body.get(name) is not None:
            body[name] = _iso_date(name, body[name])
    starts = body.get("starts_on") or (current or {}).get("starts_on")
    ends = body["ends_on"] if "ends_on" in body else (current or {}).get("ends_on")
    if starts and ends and ends < starts:
        raise invalid("ends_on", "must not be before starts_on")
    if "numbers" in body:
        await _known_numbers(request, body["numbers"])
    return body


def _iso_date(name: str, raw: str) -> str:
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError as exc:
        raise invalid(name, "must be a date, YYYY-MM-DD") from exc


async def _known_numbers(request: web.Request, numbers: list[str]) -> None:
    if not numbers:
        raise invalid("numbers", "at least one tracking number")
    known = {r["number"] for r in await TrackingNumbers(store_of(request).db).list()}
    unknown = [n for n in numbers if n not in known]
    if unknown:
        raise invalid("numbers", f"not tracking numbers: {', '.join(unknown)}")


# -- page ----------------------------------------------------------------------------------------------


async def page(request: web.Request) -> web.FileResponse:
    """GET /crm/analytics: the analytics, tracking numbers, campaigns and import page."""
    return web.FileResponse(PAGE, headers={"Cache-Control": "no-cache"})


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes (and the import/export ones)."""
    router.add_get("/crm/analytics", page)
    router.add_get("/api/crm/analytics/summary", summary)
    router.add_get("/api/crm/analytics/funnel", funnel)
    router.add_get("/api/crm/analytics/employees", employees)
    router.add_get("/api/crm/analytics/lines", lines)
    router.add_get("/api/crm/analytics/offices", offices_list)
    router.add_post("/api/crm/analytics/rebuild", rebuild)
    router.add_get("/api/crm/tracking-numbers", list_numbers)
    router.add_post("/api/crm/tracking-numbers", add_number)
    router.add_patch("/api/crm/tracking-numbers/{number}", rename_number)
    router.add_get("/api/crm/campaigns", list_campaigns)
    router.add_post("/api/crm/campaigns", create_campaign)
    router.add_patch("/api/crm/campaigns/{id}", update_campaign)
    router.add_post("/api/crm/campaigns/{id}/end", end_campaign)
    router.add_delete("/api/crm/campaigns/{id}", delete_campaign)
    routes_imports.add_routes(router)

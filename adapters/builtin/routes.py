"""Mounting the built-in CRM on the daemon's HTTP app: REST API, pages, screen pop, recordings.

The service calls `setup(app, adapter.store, links=..., call_control=...)` once, after
`connector.api.app.create_app`. Employees' tokens then authenticate through the store.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.builtin import (
    activity_watch,
    calls_export,
    dialer_routes,
    openapi,
    pages,
    permissions,
    routes_accounts,
    routes_analytics,
    routes_calls,
    routes_chats,
    routes_deal_people,
    routes_fields,
    routes_mail,
    routes_mailboxes,
    routes_offices,
    routes_people,
    routes_pipelines,
    routes_sms,
    routes_work,
    routes_workspace,
)
from adapters.builtin.auditing import audit_changes
from adapters.builtin.db import NotFoundError, calls_visible_to
from adapters.builtin.handlers import CONFIG_KEY, STORE_KEY, CrmConfig, store_errors
from adapters.builtin.numbers import normalise
from adapters.builtin.store import Store, shared_store
from connector.api import live, recordings
from connector.api.app import AUTH_KEY
from connector.api.auth import PeopleResolver, Principal, csrf_token
from connector.api.recordings import RecordingLinks
from connector.api.settings import SessionSettings
from connector.calls.model import LiveEvent, LiveKind
from connector.config import Settings

# Which live event opens the card for each screen-pop setting.
_POP_ON = {"ring": LiveKind.RINGING, "answer": LiveKind.ANSWERED}


def mount(app: web.Application, settings: Settings, *, call_control: Any = None) -> Store | None:
    """Mount the built-in CRM when it is configured and enabled; its store, or None.

    For the service's `create_http_app`, before the app starts: the routes and the adapter that
    `adapters.builtin.create` builds later share the store through `shared_store`.
    """
    from adapters.builtin import with_storage

    crm = settings.adapters.get("builtin")
    if crm is None or not crm.enabled:
        return None
    if STORE_KEY in app:
        return app[STORE_KEY]
    crm = with_storage(crm, settings.storage.dir)
    store = shared_store(crm.path(settings.storage.dir), crm.pipeline_map())
    links = app.get(recordings.LINKS_KEY) or recordings.links_from_settings(
        settings.http, settings.storage.recordings_dir
    )
    routes_analytics.configure(app, settings.numbering.lines)
    setup(app, store, links=links, call_control=call_control, page_size=crm.page_size)
    if crm.sms.enabled:
        from adapters.builtin import sms_service

        sms_service.configure(app, crm.sms, store.sms)
    return store


def setup(
    app: web.Application,
    store: Store,
    *,
    links: RecordingLinks | None = None,
    call_control: Any = None,
    page_size: int = 50,
) -> None:
    """Mount the CRM's routes, its people's tokens, screen pop and (with `links`) recordings."""
    app[STORE_KEY] = store
    app[CONFIG_KEY] = CrmConfig(page_size=page_size, links=links, call_control=call_control)
    app.middlewares.append(store_errors)
    app.middlewares.append(permissions.enforce)
    app.middlewares.append(audit_changes)
    routes_accounts.setup(app)
    sessions = routes_accounts.http_settings(app).sessions
    app[AUTH_KEY].set_people(people_resolver(store), session_resolver(store, sessions))
    live.setup(app, screen_pop_enricher(store))
    if links is not None:
        recordings.setup(app, links, recording_access(store, links))
        app[recordings.LISTEN_KEY] = listen_recorder(store)
    for module in (
        routes_accounts,
        routes_people,
        calls_export,
        routes_calls,
        routes_work,
        routes_deal_people,
        routes_fields,
        routes_pipelines,
        routes_workspace,
        openapi,
        pages,
        routes_analytics,
        routes_sms,
        routes_mail,
        routes_mailboxes,
        routes_offices,
        dialer_routes,
        routes_chats,
    ):
        module.add_routes(app.router)
    dialer_routes.configure(app, store.db, call_control)  # auto-dial lists, when calls can be placed
    offices = getattr(call_control, "offices", None)
    if offices is not None:  # an employee's office says which PBX rings their phone (connector.offices)
        offices.owner = store.employees.office_of
    app.cleanup_ctx.append(routes_mail.worker_context)  # fetching and sending mail, owned by the app
    app.cleanup_ctx.append(activity_watch.context(store.db, store.changes))  # the live feed, pushed


def people_resolver(store: Store) -> PeopleResolver:
    """Token → the employee holding it, as a `Principal` limited to their own extension."""

    async def resolve(token: str) -> Principal | None:
        row = await store.employees.by_token(token)
        if row is None:
            return None
        return Principal(row["name"], row["role"], (row["extension"],), employee_id=row["id"])

    return resolve


def session_resolver(store: Store, settings: SessionSettings) -> PeopleResolver:
    """Session id (from the cookie) → the signed-in employee, with the session's CSRF token."""

    async def resolve(session_id: str) -> Principal | None:
        row = await store.accounts.session(session_id, settings)
        if row is None:
            return None
        return Principal(
            row["name"],
            row["role"],
            (row["extension"],),
            employee_id=row["id"],
            session=row["id_hash"][:12],
            csrf=csrf_token(session_id),
        )

    return resolve


def listen_recorder(store: Store) -> recordings.ListenHook:
    """Each playback that starts goes to the audit log: who (or «signed link») heard which recording."""
    from connector.api.throttle import client_address

    async def listened(principal: Principal | None, rel: str, request: web.Request) -> None:
        actor = principal.name if principal else "по подписанной ссылке"
        employee_id = principal.employee_id if principal else None
        await store.audit.record(
            employee_id, actor, "listen", "recordings", rel, address=client_address(request)
        )

    return listened


def screen_pop_enricher(store: Store) -> live.Enricher:
    """Adds the caller's card and whether this employee's setting opens it on this event."""

    async def enrich(event: LiveEvent, principal: Principal) -> dict[str, Any]:
        phone = normalise(event.client)
        client = await store.clients.by_phone(phone) if phone else None
        mode = "never"
        if event.exten is not None:
            employee = await store.employees.by_extension(event.exten)
            mode = employee["screen_pop"] if employee else "ring"
        summary = await caller_summary(store, client, principal.scope) if client else None
        return {"client": client, "phone": phone, "pop": _POP_ON.get(mode) is event.kind, "summary": summary}

    return enrich


async def caller_summary(
    store: Store, client: dict[str, Any], scope: tuple[str, ...] | None
) -> dict[str, Any]:
    """What the call panel shows about a caller: company, last calls, open deals, last comment."""
    db = store.db
    visible, extra = calls_visible_to(scope)
    params: list[Any] = [client["id"], *extra]
    calls = await db.fetch_all(
        "SELECT k.started_at, k.disposition, k.direction, e.name AS employee_name FROM calls k"
        f" LEFT JOIN employees e ON e.extension = k.employee WHERE k.client_id = ?{visible}"
        " ORDER BY k.started_at DESC LIMIT 3",
        params,
    )
    total = await db.scalar(f"SELECT COUNT(*) FROM calls k WHERE k.client_id = ?{visible}", params)
    deals = await db.fetch_all(
        "SELECT id, title, stage, value, currency FROM deals WHERE client_id = ? AND status = 'open'"
        " ORDER BY created_at DESC LIMIT 5",
        (client["id"],),
    )
    comment = await db.fetch_one(
        "SELECT m.text, m.created_at AS at, e.name AS who FROM comments m"
        " LEFT JOIN employees e ON e.id = m.author_id WHERE m.client_id = ?"
        " ORDER BY m.created_at DESC, m.id DESC",
        (client["id"],),
    )
    company = {"id": client["company_id"], "name": client["company_name"]} if client["company_id"] else None
    return {"company": company, "calls": calls, "calls_total": total, "deals": deals, "last_comment": comment}


def recording_access(store: Store, links: RecordingLinks) -> recordings.AccessCheck:
    """Admins and managers hear every recording; employees those of their own calls."""

    async def allowed(principal: Principal, rel: str) -> bool:
        if principal.sees_all:
            return True
        call = await store.calls.by_recording(str(links.root / rel))
        if call is None:
            return False
        try:
            await store.calls.get(call["id"], principal.scope)
        except NotFoundError:
            return False
        return True

    return allowed

"""The OpenAPI 3.1 description of the built-in CRM's REST API, served at /api/crm/openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.builtin import chats_openapi, dialer_openapi, mail_openapi
from adapters.builtin.activity import DEAL_STATUSES, FEED_KINDS
from adapters.builtin.callstore import CALL_REASONS, CALL_TYPES
from adapters.builtin.people import ROLES, SCREEN_POP

_PAGE = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
_PHONE = {"name": "phone", "in": "path", "required": True, "schema": {"type": "string"}}


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_CALL_FILTERS = [
    _q("type", {"enum": list(CALL_TYPES)}, "incoming = answered inbound; missed = unanswered inbound"),
    _q("did", {"type": "string"}, "the line (tracking number) the call came on"),
    _q("employee", {"type": "string"}, "an extension that rang, answered or talked"),
    _q("from", {"type": "string", "format": "date-time"}, "started at or after"),
    _q("to", {"type": "string", "format": "date-time"}, "started before"),
    _q("appeals", {"type": "boolean"}, "latest inbound call per number with no deal"),
    _q("unsorted", {"type": "boolean"}, "inbound calls with no client and no deal"),
    _q("spam", {"type": "boolean"}, "true: only spam numbers; false: without them"),
    _q("phone", {"type": "string"}),
    _q("client_id", {"type": "integer"}),
    _q("q", {"type": "string"}, "a phone fragment typed any way (916 123, 8916...), or a client's name"),
    _q("reason", {"enum": list(CALL_REASONS)}, "why an unanswered call ended so (the tracker's reason)"),
    _q(
        "outcome", {"type": "string"}, "what came of the call, as the employee chose (settings.call_outcomes)"
    ),
    _q("closed_hours_first", {"type": "boolean"}, "calls that came in closed hours first"),
    _q("pbx", {"type": "string"}, "one office's calls (the PBX id of the connector that filed them)"),
    *_PAGE,
]


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


_S = {"type": "string"}
_I = {"type": "integer"}
_T = {"type": "string", "format": "date-time"}
_BODIES: dict[str, dict[str, Any]] = {
    "Session": _obj(["login", "password"], login=_S, password=_S),
    "Me": _obj(["screen_pop"], screen_pop={"enum": list(SCREEN_POP)}),
    "PasswordChange": _obj(["current_password", "new_password"], current_password=_S, new_password=_S),
    "Employee": _obj(
        ["name", "extension", "role"], name=_S, extension=_S, role={"enum": list(ROLES)}, login=_S,
        password=_S,
    ),
    "EmployeePatch": _obj(
        [], name=_S, extension=_S, role={"enum": list(ROLES)}, login=_S, active={"type": "boolean"},
    ),
    "PasswordReset": _obj([], password=_S),
    "Client": _obj(
        ["name"], name=_S, phones={"type": "array", "items": _S}, email=_S, notes=_S, company_id=_I,
        responsible_id=_I,
    ),
    "ClientPatch": _obj(
        [], name=_S, email=_S, notes=_S, company_id={"type": ["integer", "null"]},
        responsible_id={"type": ["integer", "null"]}, emails={"type": "array", "items": _S},
    ),
    "Phone": _obj(["phone"], phone=_S),
    "Company": _obj([], name=_S, inn={"type": "string", "pattern": "^([0-9]{10}|[0-9]{12})$"}),
    "Settings": _obj(
        [], timezone=_S, missed_call_task={"type": "boolean"}, client_columns={"type": "array", "items": _S},
        call_outcomes={"type": "array", "items": _S},
    ),
    "FieldDef": _obj(
        ["entity", "label", "kind"],
        entity={"enum": ["client", "company", "deal"]},
        label=_S,
        kind={"enum": ["text", "number", "date", "list", "phone", "email"]},
        options={"type": "array", "items": _S},
    ),
    "FieldPatch": _obj(
        [], label=_S, options={"type": "array", "items": _S}, hidden={"type": "boolean"}, position=_I
    ),
    "FieldValues": _obj(["values"], values={"type": "object"}),
    "Pipeline": _obj(["name"], name=_S, stages={"type": "array", "items": _S}),
    "PipelinePatch": _obj([], name=_S, order={"type": "array", "items": _S}),
    "StageName": _obj(["name"], name=_S),
    "Participant": _obj(["employee_id"], employee_id=_I),
    "Muted": _obj(["muted"], muted={"type": "boolean"}),
    "StageRename": _obj(["from", "to"], **{"from": _S, "to": _S}),
    "Comment": _obj(["text"], text=_S, call_id=_S),
    "Reminder": _obj(["remind_at"], remind_at=_T, text=_S, employee_id=_I),
    "Task": _obj(["title"], title=_S, client_id=_I, deal_id=_I, assignee_id=_I, deadline=_T),
    "TaskDone": _obj(["done"], done={"type": "boolean"}),
    "Deal": _obj(
        ["title", "pipeline_id"], title=_S, client_id=_I, pipeline_id=_I, stage=_S, value={"type": "number"},
        currency=_S, notes=_S, responsible_id=_I,
    ),
    "DealPatch": _obj(
        [], title=_S, stage=_S, status={"enum": list(DEAL_STATUSES)}, value={"type": "number"}, currency=_S,
        notes=_S, responsible_id=_I, reason=_S, pipeline_id=_I,
    ),
    "CallClient": _obj(["name"], name=_S, email=_S),
    "Attach": _obj(["client_id"], client_id=_I),
    "CallTask": _obj(["title"], title=_S, assignee_id=_I, deadline=_T),
    "CallDeal": _obj([], title=_S, pipeline_id=_I, value={"type": "number"}, currency=_S),
    "Spam": _obj([], spam={"type": "boolean"}),
    "Outcome": _obj(["outcome"], outcome=_S),
    "ListName": _obj(["name"], name=_S),
    "CallBack": _obj([], extension=_S),
    "TrackingNumber": _obj(["number"], number=_S, name=_S),
    "TrackingNumberName": _obj(["name"], name=_S),
    "Campaign": _obj(
        ["name", "numbers", "starts_on"], name=_S, numbers={"type": "array", "items": _S},
        starts_on={"type": "string", "format": "date"},
        ends_on={"type": ["string", "null"], "format": "date"}, budget={"type": "number"},
    ),
    "CampaignPatch": _obj(
        [], name=_S, numbers={"type": "array", "items": _S}, starts_on={"type": "string", "format": "date"},
        ends_on={"type": ["string", "null"], "format": "date"}, budget={"type": ["number", "null"]},
    ),
    "Import": {
        "type": "object",
        "required": ["file", "mapping"],
        "properties": {
            "file": {"type": "string", "contentEncoding": "binary", "description": "CSV or XLSX, ≤ 50 MB"},
            "mapping": {"type": "string", "description": "JSON: column header → client field"},
            "list_name": _S,
            "dry_run": {"type": "boolean"},
        },
    },
    "Delivery": {
        "type": "object", "required": ["event"],
        "properties": {
            "event": {"enum": ["call.finished", "call.live", "call.recording"]}, "key": _S,
            "call": {"type": "object"}, "live": {"type": "object"},
        },
    },
    "IngestToken": _obj(["pbx"], pbx=_S),
    "ImportFile": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "contentEncoding": "binary"}},
    },
    "Sms": _obj(["text"], text={"type": "string", "maxLength": 1000}, phone=_S, sender=_S),
    "Mailing": _obj(
        ["text"], name=_S, text={"type": "string", "maxLength": 1000}, sender=_S, scheduled_at=_T,
        client_ids={"type": "array", "items": _I},
        filter=_obj([], q=_S, responsible_id=_I, company_id=_I, pipeline_id=_I, stage=_S),
    ),
    "OptOut": _obj(["phone"], phone=_S, reason=_S),
    **mail_openapi.BODIES,
    **dialer_openapi.BODIES,
    **chats_openapi.BODIES,
}  # fmt: skip

_PERIOD = [
    _q("from", {"type": "string", "format": "date"}, "first day (default: the 1st of this month)"),
    _q("to", {"type": "string", "format": "date"}, "last day (default: today)"),
    _q("pbx", {"type": "string"}, "one office's calls only (see /api/crm/analytics/offices)"),
]
_NUMBER = [{"name": "number", "in": "path", "required": True, "schema": _S}]
_ACTIONS = ("pause", "resume", "cancel")
_ACTION = {"name": "action", "in": "path", "required": True, "schema": {"enum": list(_ACTIONS)}}

# (method, path, summary, parameters, request body schema name or "")
_OPERATIONS: list[tuple[str, str, str, list[dict[str, Any]], str]] = [
    ("get", "/api/crm/session", "Whether this browser is signed in (with the CSRF token)", [], ""),
    ("post", "/api/crm/session", "Sign in with login and password (sets an HttpOnly cookie)", [], "Session"),
    ("delete", "/api/crm/session", "Sign out (ends the session on the server)", [], ""),
    ("get", "/api/crm/me", "Who is signed in, with their permissions", [], ""),
    ("patch", "/api/crm/me", "Change the screen-pop setting", [], "Me"),
    ("post", "/api/crm/me/password", "Change one's password (other sessions end)", [], "PasswordChange"),
    ("get", "/api/crm/employees", "List employees", [], ""),
    ("post", "/api/crm/employees", "Add an employee (admins); token and password shown once", [], "Employee"),
    ("patch", "/api/crm/employees/{id}", "Edit, (de)activate an employee (admins)", _ID, "EmployeePatch"),
    ("post", "/api/crm/employees/{id}/password", "Reset a password (admins)", _ID, "PasswordReset"),
    ("post", "/api/crm/employees/{id}/token", "Issue a new API token (admins)", _ID, ""),
    (
        "get", "/api/crm/audit", "Audit log: who changed what (admins)",
        [_q("entity", _S), _q("actor_id", _I), *_PAGE], "",
    ),
    (
        "get", "/api/crm/clients", "List clients; super-filter (JSON conditions) and custom columns",
        [_q("q", _S), _q("kind", _S), _q("filter", _S), _q("fields", _S), _q("archived", _S), *_PAGE], "",
    ),
    ("post", "/api/crm/clients", "Create a client", [], "Client"),
    ("get", "/api/crm/clients/{id}", "A client card with open deals and tasks", _ID, ""),
    ("patch", "/api/crm/clients/{id}", "Edit a client (naming a contact card: a client)", _ID, "ClientPatch"),
    ("post", "/api/crm/clients/{id}/phones", "Add a number to a client", _ID, "Phone"),
    ("get", "/api/crm/lists", "Lists of clients with their sizes", [], ""),
    ("post", "/api/crm/clients/{id}/lists", "Put a client in a list (made if new)", _ID, "ListName"),
    (
        "delete", "/api/crm/clients/{id}/lists/{list_id}", "Take a client out of a list",
        [*_ID, {"name": "list_id", "in": "path", "required": True, "schema": _I}], "",
    ),
    (
        "post", "/api/crm/clients/{id}/archive", "Send a client to the archive for good (its deals"
        " are deleted, its numbers set free); the archive: GET /api/crm/clients?archived=1", _ID, "",
    ),
    (
        "get", "/api/crm/clients/{id}/feed", "The client's feed, newest first",
        [*_ID, _q("kind", _S, "comma list of " + ", ".join(FEED_KINDS)), _q("q", _S), *_PAGE], "",
    ),
    ("post", "/api/crm/clients/{id}/comments", "Comment on a client", _ID, "Comment"),
    ("post", "/api/crm/clients/{id}/reminders", "Set a reminder", _ID, "Reminder"),
    ("get", "/api/crm/lookup", "The client or contact card of a number", [_q("phone", _S)], ""),
    ("get", "/api/crm/companies", "List companies", [_q("q", _S), *_PAGE], ""),
    ("post", "/api/crm/companies", "Create a company", [], "Company"),
    ("get", "/api/crm/companies/{id}", "A company with its people", _ID, ""),
    ("get", "/api/crm/calls", "List calls (employees see only their own)", _CALL_FILTERS, ""),
    ("get", "/api/crm/calls.csv", "The calls list as CSV (same filters, 100k rows)", _CALL_FILTERS, ""),
    ("get", "/api/crm/calls/{id}", "One call with legs, transfers and a signed recording link", _ID, ""),
    ("post", "/api/crm/calls/{id}/comment", "Comment on a call", _ID, "Comment"),
    ("post", "/api/crm/calls/{id}/client", "Create a client from the call's number", _ID, "CallClient"),
    ("post", "/api/crm/calls/{id}/attach", "Add the call's number to a client", _ID, "Attach"),
    ("post", "/api/crm/calls/{id}/task", "Create a task from a call", _ID, "CallTask"),
    ("post", "/api/crm/calls/{id}/deal", "Create a deal from a call", _ID, "CallDeal"),
    ("post", "/api/crm/calls/{id}/spam", "Mark the number as spam (or not)", _ID, "Spam"),
    ("post", "/api/crm/calls/{id}/outcome", "What came of the call (settings.call_outcomes)", _ID, "Outcome"),
    ("post", "/api/crm/calls/{id}/callback", "Call the number back (click-to-call)", _ID, "CallBack"),
    ("get", "/api/crm/pipelines", "Deal pipelines and their stages", [], ""),
    ("get", "/api/crm/fields", "Custom fields of a card", [_q("entity", _S)], ""),
    ("post", "/api/crm/fields", "Add a custom field (admins)", [], "FieldDef"),
    ("patch", "/api/crm/fields/{id}", "Rename, hide, reorder a custom field", _ID, "FieldPatch"),
    ("delete", "/api/crm/fields/{id}", "Delete a custom field and its values", _ID, ""),
    ("get", "/api/crm/clients/{id}/fields", "A client's custom fields with values", _ID, ""),
    ("put", "/api/crm/clients/{id}/fields", "Set a client's custom fields", _ID, "FieldValues"),
    ("get", "/api/crm/companies/{id}/fields", "A company's custom fields with values", _ID, ""),
    ("put", "/api/crm/companies/{id}/fields", "Set a company's custom fields", _ID, "FieldValues"),
    ("get", "/api/crm/deals/{id}/fields", "A deal's custom fields with values", _ID, ""),
    ("put", "/api/crm/deals/{id}/fields", "Set a deal's custom fields", _ID, "FieldValues"),
    ("get", "/api/crm/tasks/{id}/fields", "A task's custom fields with values", _ID, ""),
    ("put", "/api/crm/tasks/{id}/fields", "Set a task's custom fields", _ID, "FieldValues"),
    *(
        (method, f"/api/crm/{plural}/{{id}}/fields/{{field_id}}/file", summary,
         [*_ID, {"name": "field_id", "in": "path", "required": True, "schema": _I}, *extra], "")
        for plural in ("clients", "companies", "deals", "tasks")
        for method, summary, extra in (
            ("put", "Put a file in a file field (the body; ?name=)", [_q("name", _S)]),
            ("get", "A file field's file, as a download", []),
        )
    ),
    ("post", "/api/crm/pipelines", "A new pipeline (three stages unless given, at most 8)", [], "Pipeline"),
    ("patch", "/api/crm/pipelines/{id}", "Rename a pipeline or reorder its stages", _ID, "PipelinePatch"),
    ("delete", "/api/crm/pipelines/{id}", "Delete an empty pipeline (409 while it holds deals)", _ID, ""),
    ("post", "/api/crm/pipelines/{id}/stages", "Add a stage at the end", _ID, "StageName"),
    ("patch", "/api/crm/pipelines/{id}/stages", "Rename a stage (its deals follow)", _ID, "StageRename"),
    (
        "delete",
        "/api/crm/pipelines/{id}/stages/{name}",
        "Remove a stage no deal is on (409 otherwise)",
        [*_ID, {"name": "name", "in": "path", "required": True, "schema": _S}],
        "",
    ),
    ("get", "/api/crm/deals", "List deals", [_q("client_id", _I), _q("status", _S), *_PAGE], ""),
    ("post", "/api/crm/deals", "Open a deal", [], "Deal"),
    ("patch", "/api/crm/deals/{id}", "Move, close (lost needs a reason) or edit a deal", _ID, "DealPatch"),
    ("get", "/api/crm/deals/{id}", "The deal card: history (who moved it when), tasks, calls", _ID, ""),
    ("post", "/api/crm/deals/{id}/participants", "Add an employee to a deal", _ID, "Participant"),
    (
        "delete",
        "/api/crm/deals/{id}/participants/{employee_id}",
        "Take a participant off a deal, or leave it (one's own id)",
        [*_ID, {"name": "employee_id", "in": "path", "required": True, "schema": _I}],
        "",
    ),
    ("patch", "/api/crm/deals/{id}/notifications", "My notifications about a deal off or on", _ID, "Muted"),
    ("get", "/api/crm/board", "Deals board", [_q("pipeline_id", _I), _q("mine", _S)], ""),
    ("get", "/api/crm/search", "Clients and companies: name, phone any way, INN, e-mail", [_q("q", _S)], ""),
    ("get", "/api/crm/alerts", "My reminders and tasks due now or within 12 h, unread @mentions", [], ""),
    ("patch", "/api/crm/reminders/{id}", "Dismiss a reminder", _ID, "TaskDone"),
    ("post", "/api/crm/mentions/{id}/seen", "Mark a comment that @mentions me as read", _ID, ""),
    ("get", "/api/crm/activity", "The company's live feed", [_q("kind", _S), _q("per_page", _I)], ""),
    ("get", "/api/crm/settings", "Company settings", [], ""),
    ("patch", "/api/crm/settings", "Change company settings (admins)", [], "Settings"),
    ("post", "/api/crm/contacts", "The card of a number (made for a new number)", [], "Phone"),
    ("delete", "/api/crm/clients/{id}/phones/{phone}", "Take a number off a client", [*_ID, _PHONE], ""),
    ("patch", "/api/crm/companies/{id}", "Rename a company or change its INN", _ID, "Company"),
    ("get", "/api/crm/tasks", "List tasks", [_q("assignee_id", _I), _q("done", _S), _q("mine", _S)], ""),
    ("post", "/api/crm/tasks", "Create a task", [], "Task"),
    ("patch", "/api/crm/tasks/{id}", "Mark a task done or open", _ID, "TaskDone"),
    ("get", "/api/crm/analytics/summary", "Summary: new clients, deals, calls, campaign costs", _PERIOD, ""),
    ("get", "/api/crm/analytics/funnel", "Deal funnel per pipeline (won/lost in the period)", _PERIOD, ""),
    ("get", "/api/crm/analytics/employees", "Employee results", [*_PERIOD, _q("sort", _S)], ""),
    ("get", "/api/crm/analytics/lines", "Incoming calls per tracking number", _PERIOD, ""),
    ("get", "/api/crm/analytics/offices", "Offices (PBX ids) with filed calls", [], ""),
    ("post", "/api/crm/analytics/rebuild", "Recount the analytics rollups from the calls (admins)", [], ""),
    (
        "post", "/api/crm/ingest", "A call, live event or recording from another office's connector"
        " (its `webhook` adapter, `Authorization: Bearer <token issued here>`)", [], "Delivery",
    ),
    (
        "get", "/api/crm/ingest/contact", "Whose client a caller is, for another office's interception"
        " (its token; the manager's extension only when their phone is on that office's PBX)",
        [_q("phone", _S)], "",
    ),
    ("get", "/api/crm/ingest/tokens", "Offices that may deliver calls here (admins)", [], ""),
    ("post", "/api/crm/ingest/tokens", "Issue an office's token, shown once (admins)", [], "IngestToken"),
    ("delete", "/api/crm/ingest/tokens/{id}", "Revoke an office's token (admins)", _ID, ""),
    ("get", "/api/crm/tracking-numbers", "Tracking numbers (lines) with names", [], ""),
    ("post", "/api/crm/tracking-numbers", "Add a tracking number (admins)", [], "TrackingNumber"),
    ("patch", "/api/crm/tracking-numbers/{number}", "Rename one (admins)", _NUMBER, "TrackingNumberName"),
    ("get", "/api/crm/campaigns", "Ad campaigns with the cost of a new lead in the period", _PERIOD, ""),
    ("post", "/api/crm/campaigns", "Start an ad campaign", [], "Campaign"),
    ("patch", "/api/crm/campaigns/{id}", "Edit a campaign", _ID, "CampaignPatch"),
    ("post", "/api/crm/campaigns/{id}/end", "End a campaign today", _ID, ""),
    ("delete", "/api/crm/campaigns/{id}", "Delete a campaign", _ID, ""),
    ("post", "/api/crm/imports/preview", "Headers and sample rows of an upload", [], "multipart:ImportFile"),
    ("post", "/api/crm/imports", "Import clients (or rehearse with dry_run)", [], "multipart:Import"),
    ("get", "/api/crm/imports", "Recent imports (undo within 24 h)", [], ""),
    ("delete", "/api/crm/imports/{id}", "Undo an import", _ID, ""),
    (
        "get", "/api/crm/export", "Export clients as CSV (admins)",
        [_q("start", _I), _q("count", _I), _q("list", _S), _q("fields", _S)], "",
    ),
    ("get", "/api/crm/sms", "SMS: enabled, sender names, balance, the provider problem if any", [], ""),
    ("post", "/api/crm/clients/{id}/sms", "Queue an SMS to a client (its status: the feed)", _ID, "Sms"),
    ("get", "/api/crm/sms/messages/{id}", "One SMS and its delivery status", _ID, ""),
    ("get", "/api/crm/sms/mailings", "SMS mailings with counts by status", _PAGE, ""),
    ("post", "/api/crm/sms/mailings/preview", "Recipients and cost, nothing sent", [], "Mailing"),
    ("post", "/api/crm/sms/mailings", "Create (schedule) a mailing", [], "Mailing"),
    (
        "get", "/api/crm/sms/mailings/{id}", "A mailing and its recipients",
        [*_ID, _q("status", _S), *_PAGE], "",
    ),
    (
        "post", "/api/crm/sms/mailings/{id}/{action}", "Pause, resume or cancel a mailing",
        [*_ID, _ACTION],
        "",
    ),
    ("get", "/api/crm/sms/optout", "Numbers that opted out of mailings", _PAGE, ""),
    ("post", "/api/crm/sms/optout", "Add a number to the opt-out list", [], "OptOut"),
    ("delete", "/api/crm/sms/optout/{phone}", "Take a number off the opt-out list", [_PHONE], ""),
    *mail_openapi.OPERATIONS,
    *dialer_openapi.OPERATIONS,
    *chats_openapi.OPERATIONS,
]  # fmt: skip

_PROBLEM = {
    "description": "An error (RFC 9457)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _operation(summary: str, params: list[dict[str, Any]], body: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {"200": {"description": "OK"}, "401": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM},
    }
    if body:
        media, _, name = body.rpartition(":")
        content_type = "multipart/form-data" if media == "multipart" else "application/json"
        ref = {"$ref": f"#/components/schemas/{name}"}
        op["requestBody"] = {"required": True, "content": {content_type: {"schema": ref}}}
    return op


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, params, body in _OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(summary, params, body)
    problem = _obj(
        ["title", "status"], type=_S, title=_S, status=_I, detail=_S, instance=_S,
        errors={"type": "array", "items": _obj(["field", "message"], field=_S, message=_S)},
    )  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "crm-connector built-in CRM", "version": "1"},
        "security": [{"bearer": []}, {"cookie": [], "csrf": []}],
        "paths": paths,
        "components": {
            "schemas": {**_BODIES, "Problem": problem},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "crm_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }


async def serve(request: web.Request) -> web.Response:
    """GET /api/crm/openapi.json: for signed-in callers unless `http.openapi_public` is set."""
    from connector.api.app import SETTINGS_KEY
    from connector.api.auth import require

    if SETTINGS_KEY not in request.app or not request.app[SETTINGS_KEY].openapi_public:
        await require(request)
    return web.json_response(document())


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount the description."""
    router.add_get("/api/crm/openapi.json", serve)

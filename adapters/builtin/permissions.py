"""Who may read and change what in the built-in CRM: the role matrix as data, enforced in one place.

`MATRIX[resource][role]` is a pair (read, change), each `all`, `own` or `none`. `ROUTES` names the
resource and action of every REST route; the `enforce` middleware refuses a role whose scope is
`none` before the handler runs, so a route cannot forget. Where the scope is `own`, the handler
loads the record and calls `check_owner` (a record with no owner yet, such as the contact card of
an unknown caller, is anyone's to take), and lists ask `own_filter` whom to show.

Roles are the manual's: «Администратор» (admin), «Менеджер» (manager: the supervisor who sees and
changes everything but people and settings) and «Сотрудник» (employee). Service tokens from the
config act as `admin` (role admin) or `service` (integrations: data, not people or settings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from connector import logs
from connector.api.app import Handler, Problem
from connector.api.auth import Principal, require

log = logs.get_logger(__name__)

ALL, OWN, NONE = "all", "own", "none"
READ, CHANGE = "read", "change"
Scope = tuple[str, str]  # (read, change)

_STAFF: Mapping[str, Scope] = {"admin": (ALL, ALL), "manager": (ALL, ALL)}
MATRIX: Mapping[str, Mapping[str, Scope]] = {
    "clients": {**_STAFF, "employee": (ALL, OWN), "service": (ALL, ALL)},
    "companies": {**_STAFF, "employee": (ALL, ALL), "service": (ALL, ALL)},
    "notes": {**_STAFF, "employee": (ALL, ALL), "service": (ALL, ALL)},  # comments and reminders
    "deals": {**_STAFF, "employee": (OWN, OWN), "service": (ALL, ALL)},
    "tasks": {**_STAFF, "employee": (OWN, OWN), "service": (ALL, ALL)},
    "calls": {**_STAFF, "employee": (OWN, OWN), "service": (OWN, OWN)},  # own: their extensions' calls
    "me": {**_STAFF, "employee": (ALL, ALL), "service": (ALL, NONE)},
    "employees": {
        "admin": (ALL, ALL),
        "manager": (ALL, NONE),
        "employee": (ALL, NONE),
        "service": (ALL, NONE),
    },
    "settings": {
        "admin": (ALL, ALL),
        "manager": (ALL, NONE),
        "employee": (ALL, NONE),
        "service": (ALL, NONE),
    },
    # editing pipelines and stages (manual: «Настройки воронки»); everyone reads them
    "pipelines": {**_STAFF, "employee": (ALL, NONE), "service": (ALL, NONE)},
    "analytics": {**_STAFF, "employee": (NONE, NONE), "service": (NONE, NONE)},  # reports and campaigns
    "imports": {**_STAFF, "employee": (NONE, NONE), "service": (NONE, NONE)},
    "export": {
        "admin": (ALL, NONE),
        "manager": (NONE, NONE),
        "employee": (NONE, NONE),
        "service": (NONE, NONE),
    },
    "sms": {**_STAFF, "employee": (ALL, ALL), "service": (ALL, ALL)},  # one SMS from the card
    # auto-dial lists: everyone makes and works them; who may stop, skip, archive: dialer_routes
    "dialer": {**_STAFF, "employee": (ALL, ALL), "service": (NONE, NONE)},
    "mailings": {**_STAFF, "employee": (NONE, NONE), "service": (NONE, NONE)},  # SMS mailings, opt-out
    # letters: everyone reads and writes (others' personal mailboxes are filtered in the store)
    "mail": {**_STAFF, "employee": (ALL, ALL), "service": (ALL, ALL)},
    # connecting mailboxes (manual §2.5: only the admin changes them; everyone sees they exist)
    "mailboxes": {
        "admin": (ALL, ALL),
        "manager": (ALL, NONE),
        "employee": (ALL, NONE),
        "service": (NONE, NONE),
    },
    # conversations between employees: everyone talks; who sees and posts where is chats.py's
    "chats": {**_STAFF, "employee": (ALL, ALL), "service": (NONE, NONE)},
    "audit": {
        "admin": (ALL, NONE),
        "manager": (NONE, NONE),
        "employee": (NONE, NONE),
        "service": (NONE, NONE),
    },
}

# Who owns a record of each resource with `own` scopes (any of them may act on it).
OWNERS: Mapping[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
    "clients": lambda row: (row.get("responsible_id"),),
    # the responsible and the participants (a loaded deal lists them as its people)
    "deals": lambda row: (row.get("responsible_id"), *(p["employee_id"] for p in row.get("people", ()))),
    "tasks": lambda row: (row.get("assignee_id"), row.get("author_id")),
}

_P = "/api/crm"
# (method, route) → (resource, action). Routes not listed here answer without signing in.
ROUTES: Mapping[tuple[str, str], tuple[str, str]] = {
    ("GET", f"{_P}/me"): ("me", READ),
    ("PATCH", f"{_P}/me"): ("me", CHANGE),
    ("POST", f"{_P}/me/password"): ("me", CHANGE),
    ("GET", f"{_P}/employees"): ("employees", READ),
    ("POST", f"{_P}/employees"): ("employees", CHANGE),
    ("PATCH", f"{_P}/employees/{{id}}"): ("employees", CHANGE),
    ("POST", f"{_P}/employees/{{id}}/password"): ("employees", CHANGE),
    ("POST", f"{_P}/employees/{{id}}/token"): ("employees", CHANGE),
    ("GET", f"{_P}/audit"): ("audit", READ),
    ("GET", f"{_P}/clients"): ("clients", READ),
    ("POST", f"{_P}/clients"): ("clients", CHANGE),
    ("GET", f"{_P}/clients/{{id}}"): ("clients", READ),
    ("PATCH", f"{_P}/clients/{{id}}"): ("clients", CHANGE),
    ("POST", f"{_P}/clients/{{id}}/phones"): ("clients", CHANGE),
    ("POST", f"{_P}/clients/{{id}}/archive"): ("clients", CHANGE),
    ("GET", f"{_P}/lists"): ("clients", READ),
    ("POST", f"{_P}/clients/{{id}}/lists"): ("clients", CHANGE),
    ("DELETE", f"{_P}/clients/{{id}}/lists/{{list_id}}"): ("clients", CHANGE),
    ("GET", f"{_P}/clients/{{id}}/feed"): ("clients", READ),
    ("POST", f"{_P}/clients/{{id}}/comments"): ("notes", CHANGE),
    ("POST", f"{_P}/clients/{{id}}/reminders"): ("notes", CHANGE),
    ("GET", f"{_P}/lookup"): ("clients", READ),
    ("GET", f"{_P}/companies"): ("companies", READ),
    ("POST", f"{_P}/companies"): ("companies", CHANGE),
    ("GET", f"{_P}/companies/{{id}}"): ("companies", READ),
    ("GET", f"{_P}/calls"): ("calls", READ),
    ("GET", f"{_P}/calls.csv"): ("calls", READ),  # the same list, as a spreadsheet
    ("GET", f"{_P}/calls/{{id}}"): ("calls", READ),
    ("POST", f"{_P}/calls/{{id}}/comment"): ("calls", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/client"): ("clients", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/attach"): ("clients", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/task"): ("tasks", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/deal"): ("deals", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/spam"): ("calls", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/outcome"): ("calls", CHANGE),
    ("POST", f"{_P}/calls/{{id}}/callback"): ("calls", CHANGE),
    ("GET", f"{_P}/pipelines"): ("settings", READ),
    ("GET", f"{_P}/fields"): ("settings", READ),  # custom fields: everyone sees them, admins define them
    ("POST", f"{_P}/fields"): ("settings", CHANGE),
    ("PATCH", f"{_P}/fields/{{id}}"): ("settings", CHANGE),
    ("DELETE", f"{_P}/fields/{{id}}"): ("settings", CHANGE),
    ("GET", f"{_P}/clients/{{id}}/fields"): ("clients", READ),
    ("PUT", f"{_P}/clients/{{id}}/fields"): ("clients", CHANGE),
    ("GET", f"{_P}/companies/{{id}}/fields"): ("companies", READ),
    ("PUT", f"{_P}/companies/{{id}}/fields"): ("companies", CHANGE),
    ("GET", f"{_P}/deals/{{id}}/fields"): ("deals", READ),
    ("PUT", f"{_P}/deals/{{id}}/fields"): ("deals", CHANGE),
    ("GET", f"{_P}/tasks/{{id}}/fields"): ("tasks", READ),
    ("PUT", f"{_P}/tasks/{{id}}/fields"): ("tasks", CHANGE),
    # a file field's file: read and changed as its card is
    **{
        (method, f"{_P}/{plural}/{{id}}/fields/{{field_id}}/file"): (plural, action)
        for plural in ("clients", "companies", "deals", "tasks")
        for method, action in (("GET", READ), ("PUT", CHANGE))
    },
    ("POST", f"{_P}/pipelines"): ("pipelines", CHANGE),
    ("PATCH", f"{_P}/pipelines/{{id}}"): ("pipelines", CHANGE),
    ("DELETE", f"{_P}/pipelines/{{id}}"): ("pipelines", CHANGE),
    ("POST", f"{_P}/pipelines/{{id}}/stages"): ("pipelines", CHANGE),
    ("PATCH", f"{_P}/pipelines/{{id}}/stages"): ("pipelines", CHANGE),
    ("DELETE", f"{_P}/pipelines/{{id}}/stages/{{name}}"): ("pipelines", CHANGE),
    ("GET", f"{_P}/deals"): ("deals", READ),
    ("POST", f"{_P}/deals"): ("deals", CHANGE),
    ("PATCH", f"{_P}/deals/{{id}}"): ("deals", CHANGE),
    ("POST", f"{_P}/deals/{{id}}/participants"): ("deals", CHANGE),
    ("DELETE", f"{_P}/deals/{{id}}/participants/{{employee_id}}"): ("deals", CHANGE),
    ("PATCH", f"{_P}/deals/{{id}}/notifications"): ("deals", READ),
    ("GET", f"{_P}/tasks"): ("tasks", READ),
    ("POST", f"{_P}/tasks"): ("tasks", CHANGE),
    ("PATCH", f"{_P}/tasks/{{id}}"): ("tasks", CHANGE),
    ("GET", f"{_P}/analytics/summary"): ("analytics", READ),
    ("GET", f"{_P}/analytics/funnel"): ("analytics", READ),
    ("GET", f"{_P}/analytics/employees"): ("analytics", READ),
    ("GET", f"{_P}/analytics/lines"): ("analytics", READ),
    ("GET", f"{_P}/analytics/offices"): ("analytics", READ),
    ("POST", f"{_P}/analytics/rebuild"): ("settings", CHANGE),
    ("GET", f"{_P}/ingest/tokens"): ("settings", CHANGE),  # managing connectors is an admin's
    ("POST", f"{_P}/ingest/tokens"): ("settings", CHANGE),
    ("DELETE", f"{_P}/ingest/tokens/{{id}}"): ("settings", CHANGE),
    ("GET", f"{_P}/tracking-numbers"): ("settings", READ),
    ("POST", f"{_P}/tracking-numbers"): ("settings", CHANGE),
    ("PATCH", f"{_P}/tracking-numbers/{{number}}"): ("settings", CHANGE),
    ("GET", f"{_P}/campaigns"): ("analytics", READ),
    ("POST", f"{_P}/campaigns"): ("analytics", CHANGE),
    ("PATCH", f"{_P}/campaigns/{{id}}"): ("analytics", CHANGE),
    ("POST", f"{_P}/campaigns/{{id}}/end"): ("analytics", CHANGE),
    ("DELETE", f"{_P}/campaigns/{{id}}"): ("analytics", CHANGE),
    ("POST", f"{_P}/imports/preview"): ("imports", CHANGE),
    ("POST", f"{_P}/imports"): ("imports", CHANGE),
    ("GET", f"{_P}/imports"): ("imports", READ),
    ("DELETE", f"{_P}/imports/{{id}}"): ("imports", CHANGE),
    ("GET", f"{_P}/export"): ("export", READ),
    ("GET", f"{_P}/search"): ("clients", READ),
    ("GET", f"{_P}/board"): ("deals", READ),
    ("GET", f"{_P}/deals/{{id}}"): ("deals", READ),
    ("GET", f"{_P}/alerts"): ("me", READ),
    ("PATCH", f"{_P}/reminders/{{id}}"): ("notes", CHANGE),
    ("POST", f"{_P}/mentions/{{id}}/seen"): ("me", CHANGE),  # only one's own mentions (the route checks)
    ("GET", f"{_P}/activity"): ("clients", READ),
    ("GET", f"{_P}/settings"): ("settings", READ),
    ("PATCH", f"{_P}/settings"): ("settings", CHANGE),
    ("POST", f"{_P}/contacts"): ("clients", CHANGE),
    ("DELETE", f"{_P}/clients/{{id}}/phones/{{phone}}"): ("clients", CHANGE),
    ("PATCH", f"{_P}/companies/{{id}}"): ("companies", CHANGE),
    ("GET", f"{_P}/dialer/lists"): ("dialer", READ),
    ("POST", f"{_P}/dialer/lists/preview"): ("dialer", CHANGE),
    ("POST", f"{_P}/dialer/lists"): ("dialer", CHANGE),
    ("GET", f"{_P}/dialer/lists/{{id}}"): ("dialer", READ),
    ("PATCH", f"{_P}/dialer/lists/{{id}}"): ("dialer", CHANGE),
    ("POST", f"{_P}/dialer/lists/{{id}}/entries/{{entry}}/skip"): ("dialer", CHANGE),
    ("POST", f"{_P}/dialer/lists/{{id}}/{{action}}"): ("dialer", CHANGE),
    ("GET", f"{_P}/sms"): ("sms", READ),
    ("POST", f"{_P}/clients/{{id}}/sms"): ("sms", CHANGE),
    ("GET", f"{_P}/sms/messages/{{id}}"): ("sms", READ),
    ("GET", f"{_P}/sms/mailings"): ("mailings", READ),
    ("POST", f"{_P}/sms/mailings/preview"): ("mailings", CHANGE),
    ("POST", f"{_P}/sms/mailings"): ("mailings", CHANGE),
    ("GET", f"{_P}/sms/mailings/{{id}}"): ("mailings", READ),
    ("POST", f"{_P}/sms/mailings/{{id}}/{{action}}"): ("mailings", CHANGE),
    ("GET", f"{_P}/sms/optout"): ("mailings", READ),
    ("POST", f"{_P}/sms/optout"): ("mailings", CHANGE),
    ("DELETE", f"{_P}/sms/optout/{{phone}}"): ("mailings", CHANGE),
    ("GET", f"{_P}/mail"): ("mail", READ),
    ("POST", f"{_P}/mail"): ("mail", CHANGE),
    ("GET", f"{_P}/mail/{{id}}"): ("mail", READ),
    ("POST", f"{_P}/mail/{{id}}/client"): ("clients", CHANGE),
    ("POST", f"{_P}/mail/{{id}}/resend"): ("mail", CHANGE),
    ("GET", f"{_P}/mail/attachments/{{id}}"): ("mail", READ),
    ("GET", f"{_P}/mailboxes"): ("mailboxes", READ),
    ("POST", f"{_P}/mailboxes"): ("mailboxes", CHANGE),
    ("PATCH", f"{_P}/mailboxes/{{id}}"): ("mailboxes", CHANGE),
    ("POST", f"{_P}/mailboxes/{{id}}/check"): ("mail", CHANGE),
    ("GET", f"{_P}/mail-templates"): ("mail", READ),
    ("POST", f"{_P}/mail-templates"): ("settings", CHANGE),
    ("DELETE", f"{_P}/mail-templates/{{id}}"): ("settings", CHANGE),
    ("GET", f"{_P}/chats"): ("chats", READ),
    ("POST", f"{_P}/chats"): ("chats", CHANGE),
    ("GET", f"{_P}/chats/unread"): ("chats", READ),
    ("GET", f"{_P}/chats/{{id}}"): ("chats", READ),
    ("PATCH", f"{_P}/chats/{{id}}"): ("chats", CHANGE),
    ("POST", f"{_P}/chats/{{id}}/members"): ("chats", CHANGE),
    ("DELETE", f"{_P}/chats/{{id}}/members/{{employee_id}}"): ("chats", CHANGE),
    ("POST", f"{_P}/chats/{{id}}/read"): ("chats", READ),
    ("GET", f"{_P}/chats/{{id}}/messages"): ("chats", READ),
    ("POST", f"{_P}/chats/{{id}}/messages"): ("chats", CHANGE),
    ("PATCH", f"{_P}/chats/messages/{{id}}"): ("chats", CHANGE),
    ("POST", f"{_P}/chats/messages/{{id}}/reactions"): ("chats", CHANGE),
    ("POST", f"{_P}/chats/messages/{{id}}/task"): ("tasks", CHANGE),
    ("GET", f"{_P}/chats/tasks/{{id}}"): ("chats", READ),
}
# Routes that answer without a caller (signing in, the public description when configured).
PUBLIC = frozenset(
    {
        ("GET", f"{_P}/session"),
        ("POST", f"{_P}/session"),
        ("DELETE", f"{_P}/session"),
        ("GET", f"{_P}/openapi.json"),
        ("POST", f"{_P}/ingest"),  # other offices' connectors, by their own token (offices.py)
        ("GET", f"{_P}/ingest/contact"),  # the same tokens: whose client a caller is
    }
)

_NAMES = {"read": "просмотр", "change": "изменение"}


def role_of(principal: Principal) -> str:
    """The matrix row of a caller: people by their role, tokens as admin or service."""
    if principal.is_person:
        return principal.role
    return "admin" if principal.role == "admin" and "*" in principal.extensions else "service"


def scope(principal: Principal, resource: str, action: str) -> str:
    """`all`, `own` or `none`: how far `principal` may `action` the `resource`."""
    pair = MATRIX[resource].get(role_of(principal), (NONE, NONE))
    return pair[0] if action == READ else pair[1]


def check(principal: Principal, resource: str, action: str) -> str:
    """The caller's scope, or a 403 problem when it is `none`."""
    found = scope(principal, resource, action)
    if found == NONE:
        raise Problem(403, "Forbidden", f"недостаточно прав: {_NAMES[action]} «{resource}» не разрешено")
    return found


def check_owner(principal: Principal, resource: str, action: str, row: Mapping[str, Any]) -> None:
    """403 when the caller's scope is `own` and the record belongs to someone else."""
    if check(principal, resource, action) != OWN:
        return
    owners = [o for o in OWNERS[resource](row) if o is not None]
    if owners and principal.employee_id not in owners:
        raise Problem(403, "Forbidden", "недостаточно прав: это запись другого сотрудника")


def own_filter(principal: Principal, resource: str) -> int | None:
    """The employee whose records a list must be limited to, or None for every record."""
    if scope(principal, resource, READ) != OWN:
        return None
    return principal.employee_id if principal.employee_id is not None else -1


def rule_of(request: web.Request) -> tuple[str, str] | None:
    """The (resource, action) of the route `request` matched, if it has one."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return ROUTES.get((method, resource.canonical))


@web.middleware
async def enforce(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before any CRM route runs: the caller is signed in and the matrix allows the action."""
    rule = rule_of(request)
    if rule is not None:
        check(await require(request), *rule)
    elif request.path.startswith(_P + "/") and _unlisted(request):
        log.warning("permissions.unlisted_route", method=request.method, path=request.path)
    return await handler(request)


def _unlisted(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return False
    return (request.method, resource.canonical) not in PUBLIC

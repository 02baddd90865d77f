"""REST routes for signing in and out, one's own account, employees (admins) and the audit log.

    GET    /api/crm/session                 → {signed_in, me?, csrf?}  (never 401: the page asks first)
    POST   /api/crm/session {login, password} → me + csrf, sets the HttpOnly session cookie
    DELETE /api/crm/session                 → 204, the session is ended on the server
    POST   /api/crm/me/password {current_password, new_password} → a fresh session, others ended
    POST   /api/crm/employees {name, extension, role, login?, password?} → row + token (+ password)
    PATCH  /api/crm/employees/{id} {name?, extension?, role?, login?, active?}
    POST   /api/crm/employees/{id}/password {password?} → a reset (generated when not given)
    POST   /api/crm/employees/{id}/token    → a new API token (the old one stops working)
    GET    /api/crm/audit?entity=&actor_id=&page=&per_page=

Failed sign-ins back off exponentially per address and per account (`connector.api.throttle`);
a throttled attempt gets 429 with Retry-After and its password is not even checked.
"""

from __future__ import annotations

import math
import re
from typing import Any

from aiohttp import web

from adapters.builtin import passwords
from adapters.builtin.handlers import caller, config_of, ok, store_of
from adapters.builtin.people import ROLES, SCREEN_POP
from adapters.builtin.validate import Field, invalid, page_of, parse, path_id, query_id
from connector import logs
from connector.api.app import SETTINGS_KEY, Problem, read_json
from connector.api.auth import COOKIE, Principal, csrf_token
from connector.api.settings import SessionSettings
from connector.api.throttle import SignInThrottle, client_address
from connector.config import PBX_ID, HttpSettings

log = logs.get_logger(__name__)

THROTTLE_KEY = web.AppKey("sign_in_throttle", SignInThrottle)
_LOGIN = re.compile(r"^[\w.@+-]{1,64}$")
_WRONG = "неверный логин или пароль"


def setup(app: web.Application) -> None:
    """Create the sign-in throttle from `http.sign_in_throttle` (once per app)."""
    if THROTTLE_KEY not in app:
        app[THROTTLE_KEY] = SignInThrottle(http_settings(app).sign_in_throttle)


def http_settings(app: web.Application) -> HttpSettings:
    """The daemon's HTTP settings (defaults when a test app has none)."""
    return app[SETTINGS_KEY] if SETTINGS_KEY in app else HttpSettings()


def _address(request: web.Request) -> str:
    return client_address(request, http_settings(request.app).sign_in_throttle.trusted_proxies)


# -- the session -----------------------------------------------------------------------------------


async def session_status(request: web.Request) -> web.Response:
    """GET /api/crm/session: whether this browser is signed in (200 either way)."""
    from connector.api.app import AUTH_KEY

    principal = await request.app[AUTH_KEY].authenticate(request)
    if principal is None:
        return ok({"signed_in": False})
    return ok({"signed_in": True, "me": await _me(request, principal), "csrf": principal.csrf})


async def sign_in(request: web.Request) -> web.Response:
    """POST /api/crm/session {login, password}: a new session in an HttpOnly cookie."""
    body = parse(
        await read_json(request), (Field("login", required=True, max_len=64), Field("password", "text", True))
    )
    store, throttle, address = store_of(request), request.app[THROTTLE_KEY], _address(request)
    account = await store.accounts.by_login(body["login"])
    key = f"employee:{account['id']}" if account else None
    wait = throttle.wait(address, key)
    if wait > 0:
        log.warning("auth.sign_in_throttled", login=body["login"], address=address, retry_in=round(wait, 1))
        raise web.HTTPTooManyRequests(headers={"Retry-After": str(max(1, math.ceil(wait)))})
    stored = account["password_hash"] if account else None
    try:
        right = await passwords.verify_password(stored, body["password"])
    except passwords.BusyError as exc:
        log.warning("auth.sign_in_busy", address=address)
        raise web.HTTPServiceUnavailable(headers={"Retry-After": "1"}) from exc
    if not right or not account or not account["active"]:
        failures, locked = throttle.failed(address, key)
        log.warning(
            "auth.sign_in_failed", login=body["login"], address=address, failures=failures, locked_for=locked
        )
        raise Problem(401, "Unauthorized", _WRONG)
    throttle.succeeded(address, key or "")
    if stored and passwords.needs_rehash(stored):
        await store.accounts.rehash(account["id"], await passwords.hash_password(body["password"]))
    log.info("auth.signed_in", employee_id=account["id"], address=address)
    await store.audit.record(
        account["id"], account["name"], "sign-in", "session", account["id"], address=address
    )
    return await _with_new_session(request, account["id"])


async def _with_new_session(request: web.Request, employee_id: int, status: int = 200) -> web.Response:
    settings = http_settings(request.app)
    session_id = await store_of(request).accounts.open_session(
        employee_id, settings.sessions, _address(request), request.headers.get("User-Agent", "")
    )
    principal = Principal("", "", employee_id=employee_id)
    response = ok({**await _me(request, principal), "csrf": csrf_token(session_id)}, status)
    set_session_cookie(response, session_id, settings)
    return response


def set_session_cookie(response: web.Response, session_id: str, settings: HttpSettings) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when the public address is https."""
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        secure=settings.public_url.startswith("https://"),
        path="/",
        max_age=_max_age(settings.sessions),
    )


def _max_age(sessions: SessionSettings) -> int:
    return sessions.absolute_hours * 3600


async def sign_out(request: web.Request) -> web.Response:
    """DELETE /api/crm/session: end the session on the server and forget the cookie."""
    from connector.api.app import AUTH_KEY

    principal = await request.app[AUTH_KEY].authenticate(request)
    if principal is not None and principal.session is not None:
        await caller(request)  # the CSRF check: another site may not sign the browser out
        store = store_of(request)
        await store.accounts.close_session(request.cookies.get(COOKIE, ""))
        await store.audit.record(
            principal.employee_id, principal.name, "sign-out", "session", principal.employee_id,
            address=_address(request),
        )  # fmt: skip
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


# -- one's own account -----------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    """GET /api/crm/me: who is signed in, their extension, role and screen-pop setting."""
    principal = await caller(request)
    return ok({**await _me(request, principal), "csrf": principal.csrf})


async def _me(request: web.Request, principal: Principal) -> dict[str, Any]:
    from adapters.builtin.permissions import MATRIX, role_of

    data: dict[str, Any] = {"name": principal.name, "role": principal.role, "sees_all": principal.sees_all}
    if principal.employee_id is not None:
        row = await store_of(request).employees.get(principal.employee_id)
        data.update(present(row))
        principal = Principal(row["name"], row["role"], (row["extension"],), employee_id=row["id"])
        data["sees_all"] = principal.sees_all
    role = role_of(principal)
    data["permissions"] = {name: dict(zip(("read", "change"), rows.get(role, ("none", "none")), strict=True))
                           for name, rows in MATRIX.items()}  # fmt: skip
    return data


async def update_me(request: web.Request) -> web.Response:
    """PATCH /api/crm/me {screen_pop}: when the client card opens (never / ring / answer)."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("screen_pop", "choice", True, SCREEN_POP),))
    if principal.employee_id is None:
        raise Problem(409, "Conflict", "service tokens have no screen-pop setting")
    await store_of(request).employees.set_screen_pop(principal.employee_id, body["screen_pop"])
    return ok(await _me(request, principal))


async def change_password(request: web.Request) -> web.Response:
    """POST /api/crm/me/password: every session of the person ends; this browser gets a new one."""
    principal = await caller(request)
    fields = (Field("current_password", "text", True), Field("new_password", "text", True))
    body = parse(await read_json(request), fields)
    if principal.employee_id is None:
        raise Problem(409, "Conflict", "service tokens have no password")
    store, throttle, address = store_of(request), request.app[THROTTLE_KEY], _address(request)
    key = f"employee:{principal.employee_id}"
    wait = throttle.wait(address, key)
    if wait > 0:
        raise web.HTTPTooManyRequests(headers={"Retry-After": str(max(1, math.ceil(wait)))})
    row = await store.db.fetch_one(
        "SELECT login, name, password_hash FROM employees WHERE id = ?", (principal.employee_id,)
    )
    assert row is not None
    if not await passwords.verify_password(row["password_hash"], body["current_password"]):
        throttle.failed(address, key)
        raise invalid("current_password", "неверный пароль")
    await _set_password(request, principal.employee_id, body["new_password"], row, "new_password")
    await store.audit.record(
        principal.employee_id, principal.name, "password", "employees", principal.employee_id
    )
    if principal.session is None:
        return ok({"changed": True})
    return await _with_new_session(request, principal.employee_id)


async def _set_password(
    request: web.Request, employee_id: int, password: str, row: dict[str, Any], field: str
) -> None:
    rules = http_settings(request.app).passwords
    personal = [row.get("login") or "", *str(row.get("name") or "").split()]
    found = passwords.problems(password, rules.min_length, personal)
    if found:
        raise Problem(
            422,
            "Unprocessable Content",
            "пароль не подходит",
            errors=[{"field": field, "message": m} for m in found],
        )
    await store_of(request).accounts.set_password_hash(employee_id, await passwords.hash_password(password))


# -- employees (admins) ----------------------------------------------------------------------------


def present(row: dict[str, Any]) -> dict[str, Any]:
    """An employee as the API shows it (never a hash)."""
    shown = {k: v for k, v in row.items() if k not in ("password_hash", "token_hash")}
    if "active" in shown:
        shown["active"] = bool(shown["active"])
    return shown


async def list_employees(request: web.Request) -> web.Response:
    """GET /api/crm/employees."""
    await caller(request)
    return ok({"items": [present(r) for r in await store_of(request).employees.list()]})


EMPLOYEE_FIELDS = (
    Field("name", required=True),
    Field("extension", required=True, max_len=10),
    Field("role", "choice", True, ROLES),
    Field("login", max_len=64),
    Field("password", "text"),
    Field("pbx", max_len=32),
)
EMPLOYEE_PATCH = (
    Field("name"),
    Field("extension", max_len=10),
    Field("role", "choice", choices=ROLES),
    Field("login", max_len=64),
    Field("active", "bool"),
    Field("pbx", max_len=32),
)


def _check_fields(body: dict[str, Any]) -> None:
    if "extension" in body and not (str(body["extension"]).isascii() and str(body["extension"]).isdigit()):
        raise invalid("extension", "digits")
    if body.get("login") is not None and not _LOGIN.match(body["login"]):
        raise invalid("login", "letters, digits and . _ - @ + only, up to 64")
    if body.get("pbx") and not PBX_ID.fullmatch(body["pbx"]):
        raise invalid("pbx", "an office id: 1-32 letters, digits, '.', '_' or '-' (empty: this PBX)")


async def create_employee(request: web.Request) -> web.Response:
    """POST /api/crm/employees (admins): token, and password when one is made up, shown only once."""
    await caller(request)
    body = parse(await read_json(request), EMPLOYEE_FIELDS)
    _check_fields(body)
    store = store_of(request)
    if body.get("login") and await store.accounts.by_login(body["login"]):
        raise Problem(409, "Conflict", f"login {body['login']} is taken")
    row, token = await store.employees.create(body["name"], body["extension"], body["role"])
    if body.get("pbx"):
        row = await store.employees.update(row["id"], {"pbx": body["pbx"]})
    shown: dict[str, Any] = {"token": token}
    if body.get("login"):
        await store.accounts.set_login(row["id"], body["login"])
        password = body.get("password") or passwords.generate()
        await _set_password(request, row["id"], password, {**row, "login": body["login"]}, "password")
        if not body.get("password"):
            shown["password"] = password
    return ok({**present(await store.employees.get(row["id"])), **shown}, 201)


async def update_employee(request: web.Request) -> web.Response:
    """PATCH /api/crm/employees/{id} (admins): deactivating ends the person's sessions and token use."""
    await caller(request)
    employee_id = path_id(request)
    body = parse(await read_json(request), EMPLOYEE_PATCH, partial=True)
    _check_fields(body)
    store = store_of(request)
    current = await store.employees.get(employee_id)
    losing_admin = (
        current["role"] == "admin"
        and current["active"]
        and (body.get("active") is False or body.get("role", "admin") != "admin")
    )
    if losing_admin and await store.employees.active_admins() <= 1:
        raise Problem(409, "Conflict", "это последний администратор: сначала назначьте другого")
    if body.get("login"):
        await store.accounts.set_login(employee_id, body["login"])
    if "active" in body:
        await store.accounts.set_active(employee_id, body["active"])
    # a new role applies at once: sessions and tokens read the role on every request
    return ok(present(await store.employees.update(employee_id, body)))


async def reset_password(request: web.Request) -> web.Response:
    """POST /api/crm/employees/{id}/password {password?} (admins): ends the person's sessions."""
    await caller(request)
    employee_id = path_id(request)
    body = parse(await read_json(request), (Field("password", "text"),))
    store = store_of(request)
    row = await store.employees.get(employee_id)
    if not row.get("login"):
        raise Problem(409, "Conflict", "give the employee a login first")
    password = body.get("password") or passwords.generate()
    await _set_password(request, employee_id, password, row, "password")
    return ok({"id": employee_id, **({} if body.get("password") else {"password": password})})


async def rotate_token(request: web.Request) -> web.Response:
    """POST /api/crm/employees/{id}/token (admins): a new API token, shown once."""
    await caller(request)
    employee_id = path_id(request)
    token = await store_of(request).employees.rotate_token(employee_id)
    return ok({"id": employee_id, "token": token})


async def list_audit(request: web.Request) -> web.Response:
    """GET /api/crm/audit?entity=&actor_id= (admins): newest first."""
    await caller(request)
    page = page_of(request, config_of(request).page_size)
    entity = request.query.get("entity") or None
    rows, total = await store_of(request).audit.list(
        entity[:40] if entity else None,
        query_id(request, "actor_id"),
        limit=page.per_page,
        offset=page.offset,
    )
    return ok(page.body(rows, total))


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/session", session_status)
    router.add_post("/api/crm/session", sign_in)
    router.add_delete("/api/crm/session", sign_out)
    router.add_get("/api/crm/me", me)
    router.add_patch("/api/crm/me", update_me)
    router.add_post("/api/crm/me/password", change_password)
    router.add_get("/api/crm/employees", list_employees)
    router.add_post("/api/crm/employees", create_employee)
    router.add_patch("/api/crm/employees/{id}", update_employee)
    router.add_post("/api/crm/employees/{id}/password", reset_password)
    router.add_post("/api/crm/employees/{id}/token", rotate_token)
    router.add_get("/api/crm/audit", list_audit)

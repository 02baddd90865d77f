"""REST routes for connecting mailboxes (admin) and for letter templates (manual §2.5).

The admin types an address and a password, as the manual shows; for Яндекс, Mail.ru and Gmail
the servers are known from the address, for other providers they are given. A password is
write-only: no answer ever carries it, only whether one is stored (or the name of the
environment variable / the fact of a file holding it).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.mail_compose import LetterError, check_address
from adapters.builtin.mail_transport import TIMEOUT
from adapters.builtin.placeholders import TemplateError, available, check, names_of
from adapters.builtin.validate import Field, invalid, parse, path_id
from connector.api.app import Problem, read_json

SECURITY = ("ssl", "starttls", "none")
MAILBOX_FIELDS = (
    Field("address", required=True),
    Field("name"),
    Field("access", "choice", choices=("common", "personal")),
    Field("owner_id", "id"),
    Field("login"),
    Field("password", max_len=500),
    Field("password_env", max_len=100),
    Field("password_file", max_len=500),
    Field("imap_host"),
    Field("imap_port", "int"),
    Field("imap_security", "choice", choices=SECURITY),
    Field("smtp_host"),
    Field("smtp_port", "int"),
    Field("smtp_security", "choice", choices=SECURITY),
    Field("folder"),
    Field("enabled", "bool"),
)
TEMPLATE_FIELDS = (Field("name", required=True), Field("subject", max_len=500), Field("body", "text"))

# Known providers: (IMAP host, port), (SMTP host, port), both over TLS from the first byte.
PROVIDERS = {
    "yandex.ru": (("imap.yandex.ru", 993), ("smtp.yandex.ru", 465)),
    "ya.ru": (("imap.yandex.ru", 993), ("smtp.yandex.ru", 465)),
    "yandex.com": (("imap.yandex.com", 993), ("smtp.yandex.com", 465)),
    "mail.ru": (("imap.mail.ru", 993), ("smtp.mail.ru", 465)),
    "inbox.ru": (("imap.mail.ru", 993), ("smtp.mail.ru", 465)),
    "list.ru": (("imap.mail.ru", 993), ("smtp.mail.ru", 465)),
    "bk.ru": (("imap.mail.ru", 993), ("smtp.mail.ru", 465)),
    "gmail.com": (("imap.gmail.com", 993), ("smtp.gmail.com", 465)),
}
APP_PASSWORD_HINT = (
    "Если в почте включена двухфакторная аутентификация, нужен пароль приложения: в Яндекс ID —"
    " «Пароли приложений» → тип «Почта»; в Mail.ru — «Безопасность» → «Пароли для внешних приложений»."
)


def _with_provider(body: dict[str, object], partial: bool) -> dict[str, object]:
    """Servers filled in from the address for known providers; the login defaults to the address."""
    if "address" in body:
        try:
            body["address"] = check_address(str(body["address"]))
        except LetterError as exc:
            raise invalid("address", str(exc)) from exc
        domain = str(body["address"]).rsplit("@", 1)[-1]
        preset = PROVIDERS.get(domain)
        if preset and not body.get("imap_host"):
            body.update(imap_host=preset[0][0], imap_port=preset[0][1], imap_security="ssl")
        if preset and not body.get("smtp_host"):
            body.update(smtp_host=preset[1][0], smtp_port=preset[1][1], smtp_security="ssl")
        body.setdefault("login", body["address"])
    if not partial:
        for key in ("imap_host", "imap_port", "smtp_host", "smtp_port"):
            if not body.get(key):
                raise invalid(key, "сервер этого почтового ящика неизвестен: укажите его")
        if not (body.get("password") or body.get("password_env") or body.get("password_file")):
            raise invalid("password", "нужен пароль (или пароль приложения)")
    for key in ("imap_port", "smtp_port"):
        if key in body and not 0 < int(str(body[key])) < 65536:
            raise invalid(key, "порт от 1 до 65535")
    return body


def _secret_columns(body: dict[str, object]) -> dict[str, object]:
    """The API's password fields as the table's columns (a new source clears the others)."""
    out = {k: v for k, v in body.items() if not k.startswith("password")}
    given = {k: body[k] for k in ("password", "password_env", "password_file") if k in body}
    if given:
        out.update(secret="", secret_env="", secret_file="")
        out.update({_COLUMN[k]: v for k, v in given.items()})
    return out


_COLUMN = {"password": "secret", "password_env": "secret_env", "password_file": "secret_file"}


async def list_mailboxes(request: web.Request) -> web.Response:
    """GET /api/crm/mailboxes: connected mailboxes (never a password) and the app-password hint."""
    await caller(request)
    mail = store_of(request).mail
    return ok(
        {"items": await mail.mailboxes(), "queue": await mail.queue_counts(), "hint": APP_PASSWORD_HINT}
    )


async def add_mailbox(request: web.Request) -> web.Response:
    """POST /api/crm/mailboxes {address, password, ...}: connect a mailbox and fetch it at once."""
    await caller(request)
    body = _with_provider(parse(await read_json(request), MAILBOX_FIELDS), partial=False)
    store = store_of(request)
    if body.get("owner_id"):
        await store.employees.get(int(str(body["owner_id"])))
    box = await store.mail.add_mailbox(_secret_columns(body))
    _worker_check(request)
    return ok(box, 201)


async def update_mailbox(request: web.Request) -> web.Response:
    """PATCH /api/crm/mailboxes/{id}: change the address or password, or switch it off (enabled)."""
    await caller(request)
    body = _with_provider(parse(await read_json(request), MAILBOX_FIELDS, partial=True), partial=True)
    box = await store_of(request).mail.update_mailbox(path_id(request), _secret_columns(body))
    _worker_check(request)
    return ok(box)


async def check_mailbox(request: web.Request) -> web.Response:
    """POST /api/crm/mailboxes/{id}/check: fetch now; the count of new letters and the status."""
    await caller(request)
    from adapters.builtin.routes_mail import worker_of

    mailbox_id = path_id(request)
    mail = store_of(request).mail
    await mail.mailbox(mailbox_id)
    try:
        async with asyncio.timeout(TIMEOUT * 3):
            new = await worker_of(request).check(mailbox_id)
    except TimeoutError as exc:
        raise Problem(504, "Gateway Timeout", "почтовый сервер не ответил вовремя") from exc
    return ok({"new": new, "mailbox": await mail.mailbox(mailbox_id)})


def _worker_check(request: web.Request) -> None:
    from adapters.builtin.routes_mail import WORKER_KEY

    worker = request.app.get(WORKER_KEY)
    if worker is not None:
        worker.check_soon()


async def list_templates(request: web.Request) -> web.Response:
    """GET /api/crm/mail-templates: templates and the fields they may use."""
    await caller(request)
    store = store_of(request)
    fields = {f.name: f.description for f in await available(store.custom)}
    return ok({"items": await store.mail.templates(), "placeholders": fields})


async def add_template(request: web.Request) -> web.Response:
    """POST /api/crm/mail-templates {name, subject, body}: a field no client has is refused."""
    await caller(request)
    body = parse(await read_json(request), TEMPLATE_FIELDS)
    known = names_of(await available(store_of(request).custom))
    for key in ("subject", "body"):
        try:
            check(str(body.get(key, "")), known)
        except TemplateError as exc:
            raise invalid(key, str(exc)) from exc
    mail = store_of(request).mail
    return ok(await mail.add_template(body["name"], body.get("subject", ""), body.get("body", "")), 201)


async def delete_template(request: web.Request) -> web.Response:
    """DELETE /api/crm/mail-templates/{id}."""
    await caller(request)
    await store_of(request).mail.delete_template(path_id(request))
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/mailboxes", list_mailboxes)
    router.add_post("/api/crm/mailboxes", add_mailbox)
    router.add_patch("/api/crm/mailboxes/{id}", update_mailbox)
    router.add_post("/api/crm/mailboxes/{id}/check", check_mailbox)
    router.add_get("/api/crm/mail-templates", list_templates)
    router.add_post("/api/crm/mail-templates", add_template)
    router.add_delete("/api/crm/mail-templates/{id}", delete_template)

"""REST routes for SMS: one from the card, mailings (admins and managers), the opt-out list.

Without ``adapters.builtin.sms.enabled`` the routes answer 503 with what to configure, except
GET /api/crm/sms, which tells the pages whether to show SMS at all.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.builtin import placeholders, sms_audience, sms_text
from adapters.builtin.db import now_iso
from adapters.builtin.handlers import caller, config_of, ok, store_of
from adapters.builtin.numbers import normalise
from adapters.builtin.sms_personal import Rendered, render_for
from adapters.builtin.sms_service import SMS_KEY, SmsService
from adapters.builtin.sms_store import SmsStore
from adapters.builtin.validate import Field, invalid, page_of, parse, path_id, query_choice
from connector.api.app import Problem, read_json
from connector.api.auth import Principal

P = "/api/crm/sms"
SEND_FIELDS = (Field("text", "text", True), Field("phone", "phone"), Field("sender", max_len=11))
MAILING_FIELDS = (
    Field("name", max_len=200),
    Field("text", "text", True),
    Field("sender", max_len=11),
    Field("scheduled_at", "time"),
)
AUDIENCE_KEYS = ("client_ids", "filter")  # checked by _audience_input
STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed", "expired", "skipped")
ACTIONS = {"pause": ("active", "paused"), "resume": ("paused", "active"), "cancel": (None, "cancelled")}


def service_of(request: web.Request) -> SmsService:
    """The SMS service, or a 503 that says how to turn SMS on."""
    service = request.app.get(SMS_KEY)
    if service is None:
        raise Problem(503, "Service Unavailable", "СМС не настроены: включите adapters.builtin.sms")
    return service


def sms_of(request: web.Request) -> SmsStore:
    """The SMS tables."""
    return store_of(request).sms


def _text(value: str) -> str:
    if len(value) > sms_text.MAX_CHARS:
        raise invalid("text", f"не больше {sms_text.MAX_CHARS} символов")
    return value


def _sender(service: SmsService, value: str | None) -> str:
    names = service.settings.allowed_senders()
    if value in (None, ""):
        return names[0] if names else ""
    if value not in names:
        raise invalid("sender", f"имя отправителя должно быть одним из: {', '.join(names) or '(нет)'}")
    return str(value)


async def info(request: web.Request) -> web.Response:
    """GET /api/crm/sms: whether SMS is on, sender names, the balance, the account problem if any."""
    await caller(request)
    service = request.app.get(SMS_KEY)
    if service is None:
        return ok({"enabled": False})
    settings = service.settings
    return ok(
        {
            "enabled": True,
            "senders": list(settings.allowed_senders()),
            "rate": settings.rate,
            "price_per_sms": settings.price_per_sms,
            "balance": await service.balance(),
            "problem": service.sender.problem if service.sender else "",
            "placeholders": await _fields(request),
        }
    )


async def _fields(request: web.Request) -> list[dict[str, str]]:
    """The fields a mailing's text may use, for the form."""
    fields = await placeholders.available(store_of(request).custom)
    return [{"name": f.name, "description": f.description} for f in fields]


def _template_problem(message: str) -> Problem:
    return Problem(400, "Bad Request", message, errors=[{"field": "text", "message": message}])


async def _author(request: web.Request, principal: Principal) -> str:
    if principal.employee_id is None:
        return ""
    return str((await store_of(request).employees.get(principal.employee_id))["name"])


async def send_to_client(request: web.Request) -> web.Response:
    """POST /api/crm/clients/{id}/sms {text, phone?, sender?}: queue one SMS, 202 with the message.

    The text may use the mailings' placeholders ({Имя}, a custom field, {Сотрудник}...): they are
    filled with this client's values, and the SMS count is the filled text's."""
    principal = await caller(request)
    store = store_of(request)
    client = await store.clients.get(path_id(request))
    body = parse(await read_json(request), SEND_FIELDS)
    service = service_of(request)  # after the input checks: a bad request is a 422 either way
    template = _text(body["text"])
    phones = list(client["phones"])
    mobile = next((p for p in phones if p.startswith("+79")), phones[0] if phones else None)
    phone = body.get("phone") or mobile
    if phone is None:
        raise invalid("phone", "у клиента нет номера")
    if phone not in phones:
        raise invalid("phone", "это не номер этого клиента")
    try:
        placeholders.check(template, placeholders.names_of(await placeholders.available(store.custom)))
        rendered = await render_for(store.db, store.custom, template, [(client["id"], phone)],
                                    employee=await _author(request, principal))  # fmt: skip
    except placeholders.TemplateError as exc:
        raise _template_problem(str(exc)) from exc
    [(text, segments)] = rendered.texts
    message = await sms_of(request).enqueue(
        phone,
        text,
        _sender(service, body.get("sender")),
        client_id=client["id"],
        author_id=principal.employee_id,
        segments=segments,
    )
    service.wake()
    return ok(message, 202)


async def get_message(request: web.Request) -> web.Response:
    """GET /api/crm/sms/messages/{id}: one message's status."""
    await caller(request)
    return ok(await sms_of(request).message(path_id(request)))


def _audience_input(body: dict[str, Any]) -> tuple[list[int] | None, dict[str, Any]]:
    ids = body.get("client_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) and i > 0 for i in ids)):
        raise invalid("client_ids", "список номеров клиентов")
    flt = body.get("filter") or {}
    if not isinstance(flt, dict) or any(k not in sms_audience.FILTER_KEYS for k in flt):
        raise invalid("filter", f"условия: {', '.join(sms_audience.FILTER_KEYS)}")
    if ids is None and not flt:
        raise invalid("client_ids", "выберите клиентов списком или условиями")
    return ids, flt


async def _plan(request: web.Request, body: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The audience, each recipient's text and the cost estimate of a mailing (preview and create).

    An unknown placeholder is a 400 before anything else is asked. The SMS count is over the
    real renderings; the provider is asked the price of the longest one for every number, and
    that price per SMS is applied to the real count.
    """
    service = service_of(request)
    store = store_of(request)
    text = _text(body["text"])
    try:
        placeholders.check(text, placeholders.names_of(await placeholders.available(store.custom)))
    except placeholders.TemplateError as exc:
        raise _template_problem(str(exc)) from exc
    sender = _sender(service, body.get("sender"))
    ids, flt = _audience_input(body)
    limit = service.settings.max_recipients
    audience = await sms_audience.resolve(store.db, ids, flt, limit)
    if audience.matched > limit:
        raise invalid("filter", f"больше {limit} получателей: сузьте условия")
    try:
        rendered = await render_for(store.db, store.custom, text, audience.recipients,
                                    employee=await _author(request, principal))  # fmt: skip
    except placeholders.TemplateError as exc:
        raise _template_problem(str(exc)) from exc
    return {
        "text": text,
        "sender": sender,
        "audience": audience,
        "rendered": rendered,
        "estimate": await _estimate(service, audience, rendered, sender),
        "input": {"client_ids": ids, "filter": flt},
    }


async def _estimate(
    service: SmsService, audience: sms_audience.Audience, rendered: Rendered, sender: str
) -> dict[str, Any]:
    phones = [phone for _, phone in audience.recipients]
    longest = max(rendered.texts, key=lambda t: t[1])[0] if rendered.texts else ""
    quote = await service.quote(phones, longest, sender) if len(phones) <= 1000 else None
    if quote and quote.segments:
        cost = round(quote.cost / quote.segments * rendered.total, 2)
    else:
        cost = round(rendered.total * service.settings.price_per_sms, 2)
    balance = await service.balance()
    return {
        **audience.summary(),
        "encoding": rendered.longest.encoding,
        "segments": rendered.longest.segments,
        "sms_total": rendered.total,
        "personal": rendered.personal,
        "preview": _preview(audience, rendered),
        "cost": cost,
        "cost_source": "provider" if quote and quote.segments else "tariff",
        "balance": balance,
        "enough": None if balance is None else balance >= cost,
    }


def _preview(audience: sms_audience.Audience, rendered: Rendered) -> dict[str, Any] | None:
    """The first recipient's message, as it will go."""
    if not audience.recipients:
        return None
    (client_id, phone), (text, segments) = audience.recipients[0], rendered.texts[0]
    return {"client_id": client_id, "phone": phone, "text": text, "segments": segments}


async def _mailing_body(request: web.Request) -> dict[str, Any]:
    raw = await read_json(request)
    audience = {k: raw.pop(k) for k in AUDIENCE_KEYS if k in raw}
    return {**parse(raw, MAILING_FIELDS), **audience}


async def preview_mailing(request: web.Request) -> web.Response:
    """POST /api/crm/sms/mailings/preview: recipients counted and the cost, before anything is made."""
    principal = await caller(request)
    plan = await _plan(request, await _mailing_body(request), principal)
    return ok(plan["estimate"])


async def create_mailing(request: web.Request) -> web.Response:
    """POST /api/crm/sms/mailings {name, text, sender?, scheduled_at?, client_ids | filter}."""
    principal = await caller(request)
    body = await _mailing_body(request)
    if not body.get("name"):
        raise invalid("name", "назовите рассылку")
    plan = await _plan(request, body, principal)
    audience: sms_audience.Audience = plan["audience"]
    rendered: Rendered = plan["rendered"]
    if not audience.recipients:
        raise invalid("client_ids", "некому отправлять: ни у кого из выбранных нет номера для СМС")
    mailing = await sms_of(request).create_mailing(
        {
            "name": body["name"],
            "text": plan["text"],
            "sender": plan["sender"],
            "scheduled_at": body.get("scheduled_at") or now_iso(),
            "audience": {**plan["input"], **audience.summary()},
            "segments": plan["estimate"]["segments"],
            "estimate": plan["estimate"]["cost"],
            "author_id": principal.employee_id,
        },
        audience.recipients,
        rendered.texts,
    )
    service_of(request).wake()
    return ok(mailing, 201)


async def list_mailings(request: web.Request) -> web.Response:
    """GET /api/crm/sms/mailings: newest first, each with its counts by status."""
    await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await sms_of(request).mailings(page.per_page, page.offset)
    return ok(page.body(rows, total))


async def get_mailing(request: web.Request) -> web.Response:
    """GET /api/crm/sms/mailings/{id}?status=&page=: the mailing and its recipients."""
    await caller(request)
    sms = sms_of(request)
    mailing = await sms.mailing(path_id(request))
    page = page_of(request, config_of(request).page_size)
    rows, total = await sms.recipients(
        mailing["id"], query_choice(request, "status", STATUSES), page.per_page, page.offset
    )
    return ok({**mailing, "messages": page.body(rows, total)})


async def mailing_action(request: web.Request) -> web.Response:
    """POST /api/crm/sms/mailings/{id}/pause|resume|cancel."""
    await caller(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise Problem(404, "Not Found", "действия: pause, resume, cancel")
    sms = sms_of(request)
    mailing = await sms.mailing(path_id(request))
    before, after = ACTIONS[action]
    if mailing["state"] in ("done", "cancelled") or (before and mailing["state"] != before):
        raise Problem(409, "Conflict", f"рассылка сейчас «{mailing['state']}»: {action} невозможно")
    changed = await sms.set_state(mailing["id"], after)
    service_of(request).wake()
    return ok(changed)


async def list_optout(request: web.Request) -> web.Response:
    """GET /api/crm/sms/optout."""
    await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await sms_of(request).optouts(page.per_page, page.offset)
    return ok(page.body(rows, total))


async def add_optout(request: web.Request) -> web.Response:
    """POST /api/crm/sms/optout {phone, reason?}."""
    await caller(request)
    body = parse(await read_json(request), (Field("phone", "phone", True), Field("reason", max_len=200)))
    return ok(await sms_of(request).opt_out(body["phone"], body.get("reason", "")), 201)


async def remove_optout(request: web.Request) -> web.Response:
    """DELETE /api/crm/sms/optout/{phone}."""
    await caller(request)
    await sms_of(request).opt_in(normalise(request.match_info["phone"]))
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get(P, info)
    router.add_post("/api/crm/clients/{id}/sms", send_to_client)
    router.add_get(f"{P}/messages/{{id}}", get_message)
    router.add_get(f"{P}/mailings", list_mailings)
    router.add_post(f"{P}/mailings/preview", preview_mailing)
    router.add_post(f"{P}/mailings", create_mailing)
    router.add_get(f"{P}/mailings/{{id}}", get_mailing)
    router.add_post(f"{P}/mailings/{{id}}/{{action}}", mailing_action)
    router.add_get(f"{P}/optout", list_optout)
    router.add_post(f"{P}/optout", add_optout)
    router.add_delete(f"{P}/optout/{{phone}}", remove_optout)

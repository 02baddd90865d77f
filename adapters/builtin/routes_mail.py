"""REST routes for letters: the mail section, a letter, its files, writing and answering, the queue.

A letter written here is built into its final MIME form and queued in one transaction
(`Mail.enqueue`), then the worker sends it; the answer is 202 with the letter in state 'queued'.
The worker itself lives as long as the HTTP app (`worker_context`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from adapters.builtin import stored_files
from adapters.builtin.db import NotFoundError, Row
from adapters.builtin.handlers import STORE_KEY, caller, config_of, ok, store_of
from adapters.builtin.mail_compose import (
    Draft,
    LetterError,
    build_message,
    check_address,
    message_id_of,
    references,
    reply_subject,
)
from adapters.builtin.mail_parse import Attachment, message_ids, safe_name
from adapters.builtin.mail_store import Viewer
from adapters.builtin.mail_worker import MailWorker
from adapters.builtin.placeholders import TemplateError, available, check, client_values, names_of, render
from adapters.builtin.validate import Field, invalid, page_of, parse, path_id, query_bool, query_id
from connector.api.app import Problem, read_json
from connector.api.auth import Principal

WORKER_KEY = web.AppKey("builtin_mail_worker", MailWorker)
MAX_UPLOAD_BYTES = 700 * 1024  # files of one written letter: the API takes bodies up to 1 MB (base64)
LETTER_FIELDS = (
    Field("mailbox_id", "id"),
    Field("client_id", "id"),
    Field("reply_to", "id"),
    Field("template_id", "id"),
    Field("to", "emails"),
    Field("cc", "emails"),
    Field("subject", max_len=500),
    Field("body", "text"),
)


async def worker_context(app: web.Application) -> AsyncIterator[None]:
    """The mail worker's life: started with the app, stopped (in-flight letters stay leased) with it."""
    worker = MailWorker(app[STORE_KEY].mail)
    app[WORKER_KEY] = worker
    worker.start()
    yield
    await worker.stop()


def worker_of(request: web.Request) -> MailWorker:
    """The app's mail worker (503 when the CRM runs without one)."""
    worker = request.app.get(WORKER_KEY)
    if worker is None:
        raise Problem(503, "Service Unavailable", "почта не запущена")
    return worker


def _viewer(principal: Principal) -> Viewer:
    return Viewer(principal.employee_id)


async def list_letters(request: web.Request) -> web.Response:
    """GET /api/crm/mail?client_id=&unmatched=1&q=: the mail section, newest first."""
    principal = await caller(request)
    page = page_of(request, config_of(request).page_size)
    rows, total = await store_of(request).mail.letters(
        _viewer(principal),
        client_id=query_id(request, "client_id"),
        unmatched=bool(query_bool(request, "unmatched")),
        q=request.query.get("q", "").strip()[:100],
        limit=page.per_page,
        offset=page.offset,
    )
    return ok(page.body(rows, total))


async def get_letter(request: web.Request) -> web.Response:
    """GET /api/crm/mail/{id}: the letter, its files, its queue state and its thread."""
    principal = await caller(request)
    return ok(await store_of(request).mail.letter(path_id(request), _viewer(principal)))


async def get_attachment(request: web.Request) -> web.StreamResponse:
    """GET /api/crm/mail/attachments/{id}: the file, always as a download (never shown inline)."""
    principal = await caller(request)
    mail = store_of(request).mail
    row = await mail.attachment(path_id(request), _viewer(principal))
    if not row["stored"]:
        raise Problem(410, "Gone", "файл был больше лимита и не сохранён")
    path = mail.file_path(row["sha256"])
    if not path.is_file():
        raise NotFoundError("attachment file", row["id"])
    return stored_files.download(path, safe_name(row["name"]))


async def write_letter(request: web.Request) -> web.Response:
    """POST /api/crm/mail {to, subject, body, client_id?, reply_to?, template_id?, attachments?}: queue it."""
    principal = await caller(request)
    data = await read_json(request)
    files = _uploads(data.pop("attachments", None))
    body = parse(data, LETTER_FIELDS)
    store = store_of(request)
    parent = await store.mail.letter(body["reply_to"], _viewer(principal)) if body.get("reply_to") else None
    box = await _mailbox_for(request, principal, body, parent)
    client = await _client_for(request, body, parent)
    subject, text = await _texts(request, principal, body, parent, client)
    to = _recipients(body, parent, client)
    draft = Draft(
        to=tuple(to), cc=tuple(body.get("cc") or ()), subject=subject, body=text, attachments=files,
        reply_to_id=parent["message_id"] if parent else "",
        reply_refs=message_ids(parent["refs"]) if parent else (),
    )  # fmt: skip
    sender_name = await _sender_name(request, principal)
    try:
        msg = build_message(draft, sender=box["address"], sender_name=sender_name,
                            domain=box["address"].rsplit("@", 1)[-1])  # fmt: skip
    except LetterError as exc:
        raise invalid("attachments", str(exc)) from exc
    letter_id = await _enqueue(request, draft, msg, box=box, client=client, writer=principal)
    worker = request.app.get(WORKER_KEY)
    if worker is not None:
        worker.queued()
    return ok(await store.mail.letter(letter_id, _viewer(principal)), 202)


async def _enqueue(
    request: web.Request, draft: Draft, msg: Any, *, box: Row, client: Row | None, writer: Principal
) -> int:
    """Keep the letter and queue it; the sender's name goes beside the address it came from."""
    mail = store_of(request).mail
    own = message_id_of(msg)
    refs = references(draft.reply_to_id, draft.reply_refs)
    letter = {
        "mailbox_id": box["id"], "message_id": own, "thread": refs[0] if refs else own,
        "in_reply_to": draft.reply_to_id, "refs": " ".join(refs),
        "from_name": await _sender_name(request, writer), "to_addrs": ", ".join(draft.to),
        "cc_addrs": ", ".join(draft.cc), "subject": draft.subject, "body": draft.body,
        "client_id": client["id"] if client else None, "employee_id": writer.employee_id,
        "attachments": draft.attachments, "stored": await mail.store_files(draft.attachments),
    }  # fmt: skip
    raw = msg.as_bytes().decode("ascii")
    return await mail.enqueue(letter, raw, box["address"], [*draft.to, *draft.cc])


def _uploads(value: Any) -> tuple[Attachment, ...]:
    """Files of a written letter: [{name, type, data (base64)}], together at most MAX_UPLOAD_BYTES."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 10:
        raise invalid("attachments", "список из не более чем 10 файлов")
    files, total = [], 0
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("data"), str):
            raise invalid("attachments", "файл — это {name, type, data в base64}")
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid("attachments", "data — не base64") from exc
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise invalid("attachments", f"файлы письма вместе больше {MAX_UPLOAD_BYTES // 1024} КБ")
        ctype = str(item.get("type") or "application/octet-stream")
        ctype = ctype if ctype.count("/") == 1 and len(ctype) < 100 else "application/octet-stream"
        files.append(Attachment(safe_name(str(item.get("name") or "файл")), ctype, data))
    return tuple(files)


async def _mailbox_for(
    request: web.Request, principal: Principal, body: dict[str, Any], parent: Row | None
) -> Row:
    """The mailbox asked for, else the answered letter's, else the writer's own, else the common one."""
    mail = store_of(request).mail
    chosen = body.get("mailbox_id") or (parent or {}).get("mailbox_id")
    boxes = [b for b in await mail.mailboxes(enabled_only=True)
             if b["access"] == "common" or b["owner_id"] == principal.employee_id]  # fmt: skip
    if chosen:
        found = [b for b in boxes if b["id"] == chosen]
    else:
        found = sorted(boxes, key=lambda b: (b["owner_id"] != principal.employee_id, b["id"]))
    if not found:
        raise Problem(409, "Conflict", "почта не подключена: администратор подключает её в разделе «Почта»")
    return found[0]


async def _client_for(request: web.Request, body: dict[str, Any], parent: Row | None) -> Row | None:
    store = store_of(request)
    client_id = body.get("client_id") or (parent or {}).get("client_id")
    if client_id is None and body.get("to"):
        client_id = await store.mail.client_by_address(body["to"][0])
    return await store.clients.get(client_id) if client_id else None


def _recipients(body: dict[str, Any], parent: Row | None, client: Row | None) -> list[str]:
    """Whom to: as written, else the answered letter's other side, else the client's first address."""
    to = body.get("to") or []
    if not to and parent is not None:
        to = [parent["from_addr"]] if parent["direction"] == "in" else parent["to_addrs"].split(", ")
    if not to and client is not None:
        to = client["emails"][:1]
    try:
        clean = [check_address(a) for a in to if a]
    except LetterError as exc:
        raise invalid("to", str(exc)) from exc
    if not clean:
        raise invalid("to", "кому отправить письмо? У клиента нет адреса: укажите его")
    return clean


async def _texts(
    request: web.Request, principal: Principal, body: dict[str, Any], parent: Row | None, client: Row | None
) -> tuple[str, str]:
    """Subject and text: as written, else the template's, else 'Re: ' the answered letter; fields filled."""
    subject, text = body.get("subject"), body.get("body")
    if body.get("template_id"):
        template = await store_of(request).mail.template(body["template_id"])
        subject = subject or template["subject"]
        text = text or template["body"]
    if not subject and parent is not None:
        subject = reply_subject(parent["subject"])
    store = store_of(request)
    known = names_of(await available(store.custom))
    try:
        check(subject or "", known)
        check(text or "", known)
    except TemplateError as exc:
        raise invalid("body", str(exc)) from exc
    employee = await _sender_name(request, principal)
    ids = [int(client["id"])] if client else []
    values = (await client_values(store.db, store.custom, ids, employee=employee)).get(
        ids[0] if ids else 0, {"сотрудник": employee}
    )
    return render(subject or "", values), render(text or "", values)


async def _sender_name(request: web.Request, principal: Principal) -> str:
    if principal.employee_id is None:
        return ""
    return str((await store_of(request).employees.get(principal.employee_id))["name"])


async def letter_to_client(request: web.Request) -> web.Response:
    """POST /api/crm/mail/{id}/client {client_id?, name?}: the sender becomes a client (or joins one)."""
    principal = await caller(request)
    body = parse(await read_json(request), (Field("client_id", "id"), Field("name")))
    store = store_of(request)
    letter = await store.mail.letter(path_id(request), _viewer(principal))
    client_id = body.get("client_id")
    if client_id:
        await store.clients.get(client_id)
    else:
        name = body.get("name") or letter["from_name"] or letter["from_addr"]
        client_id = await store.clients.create(name, (), responsible_id=principal.employee_id)
        await store.clients.update(client_id, {"emails": [letter["from_addr"]]}, by=principal.employee_id)
    await store.mail.set_client(letter["id"], client_id)
    return ok(await store.clients.get(client_id), 201 if not body.get("client_id") else 200)


async def resend_letter(request: web.Request) -> web.Response:
    """POST /api/crm/mail/{id}/resend: a dead letter goes back into the queue."""
    principal = await caller(request)
    store = store_of(request)
    letter_id = path_id(request)
    await store.mail.letter(letter_id, _viewer(principal))
    await store.mail.resend(letter_id)
    worker = request.app.get(WORKER_KEY)
    if worker is not None:
        worker.queued()
    return ok(await store.mail.letter(letter_id, _viewer(principal)), 202)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/mail", list_letters)
    router.add_post("/api/crm/mail", write_letter)
    router.add_get("/api/crm/mail/{id}", get_letter)
    router.add_post("/api/crm/mail/{id}/client", letter_to_client)
    router.add_post("/api/crm/mail/{id}/resend", resend_letter)
    router.add_get("/api/crm/mail/attachments/{id}", get_attachment)

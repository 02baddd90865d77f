"""REST routes of conversations between employees; their news go out over /api/live as `{chat: ...}`.

Who may do what is `adapters.builtin.chats`' (docs/chats.md); bad input is answered in Russian.
After each write the chat's members hear of it at once (a `Broadcast` to those people): a new
message (with whom it mentions), an edit, a reaction, a read mark (the reader's other tabs).
"""

from __future__ import annotations

import weakref
from typing import Any

from aiohttp import web

from adapters.builtin import chats
from adapters.builtin.chat_store import Chats, public_chat
from adapters.builtin.db import Database, NotFoundError, Row
from adapters.builtin.handlers import ok, store_of
from adapters.builtin.mentions import mentioned
from adapters.builtin.permissions import CHANGE, check_owner
from adapters.builtin.routes_work import TASK_FIELDS
from adapters.builtin.validate import parse, path_id, query_int
from connector.api.app import Problem, read_json
from connector.api.auth import require
from connector.api.live import Broadcast

TOPIC = "chat"


def _bad(field: str, message: str) -> Problem:
    return Problem(422, "Unprocessable Content", message, errors=[{"field": field, "message": message}])


def _forbidden(message: str) -> Problem:
    return Problem(403, "Forbidden", message)


async def _me(request: web.Request) -> int:
    """The calling employee's id: chats are people's (409 for an admin's token, as for /me)."""
    principal = await require(request)
    if principal.employee_id is None:
        raise Problem(409, "Conflict", "у токена интеграции нет бесед: они есть только у сотрудников")
    return principal.employee_id


_STORES: weakref.WeakKeyDictionary[Database, Chats] = weakref.WeakKeyDictionary()


def chats_of(request: web.Request) -> Chats:
    """The chat store on the CRM's database (one per database, made on first use)."""
    db = store_of(request).db
    if db not in _STORES:
        _STORES[db] = Chats(db)
    return _STORES[db]


def _publish(request: web.Request, payload: dict[str, Any], people: tuple[int, ...]) -> None:
    from connector.api.app import HUB_KEY

    if people and HUB_KEY in request.app:
        request.app[HUB_KEY].publish(Broadcast(TOPIC, payload, people=people))


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object sent ({} for an empty body, where every field is optional)."""
    if not request.body_exists:
        return {}
    return await read_json(request)


def _text(data: dict[str, Any], field: str = "text") -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _bad(field, "сообщение не может быть пустым")
    text = value.strip()
    if len(text) > chats.MAX_TEXT:
        raise _bad(field, f"сообщение длиннее {chats.MAX_TEXT} символов: разбейте его на несколько")
    return text


def _id(data: dict[str, Any], field: str, *, required: bool = False) -> int | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**62:
        raise _bad(field, "нужен номер (целое положительное число)")
    return value


def _ids(data: dict[str, Any], field: str) -> list[int]:
    value = data.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _bad(field, "нужен список номеров сотрудников")
    if len(value) > chats.MAX_MEMBERS - 1:
        raise _bad(field, f"в беседе не больше {chats.MAX_MEMBERS} участников")
    return list(dict.fromkeys(value))


async def _visible_chat(request: web.Request, me: int) -> Row:
    """The chat of the path, if `me` may read it (404 otherwise: others' chats are not shown to exist)."""
    chat = await chats_of(request).chat(path_id(request), me)
    if not chats.may_read(chat):
        raise Problem(404, "Not Found", "беседа не найдена")
    return chat


async def _employees_exist(request: web.Request, ids: list[int], field: str) -> None:
    for employee_id in ids:
        try:
            row = await store_of(request).employees.get(employee_id)
        except NotFoundError:
            row = None
        if row is None or not row.get("active", 1):
            raise _bad(field, f"нет такого сотрудника: {employee_id}")


# -- chats -------------------------------------------------------------------------------------


async def list_chats(request: web.Request) -> web.Response:
    """GET /api/crm/chats: my chats and the public channels, with unread counts and the last message."""
    me = await _me(request)
    rows = await chats_of(request).list_for(me)
    return ok({"items": [public_chat(r) for r in rows], "unread": await chats_of(request).unread_total(me)})


async def unread(request: web.Request) -> web.Response:
    """GET /api/crm/chats/unread: unread messages and mentions over all my chats (the nav badge)."""
    return ok(await chats_of(request).unread_total(await _me(request)))


async def create_chat(request: web.Request) -> web.Response:
    """POST /api/crm/chats {kind, title?, member_ids, public?}: a direct chat is found or made."""
    me = await _me(request)
    data = await _body(request)
    unknown = sorted(set(data) - {"kind", "title", "member_ids", "public"})
    if unknown:
        raise _bad(unknown[0], "неизвестное поле")
    kind = data.get("kind")
    if kind not in chats.KINDS:
        raise _bad("kind", "вид беседы: direct (один на один), group (групповая) или channel (канал)")
    people = _ids(data, "member_ids")
    await _employees_exist(request, people, "member_ids")
    if kind == "direct":
        others = [p for p in people if p != me]
        if len(others) != 1:
            raise _bad("member_ids", "в беседе один на один — ровно один собеседник")
        chat, made = await chats_of(request).direct(me, others[0])
        return ok(public_chat(chat), 201 if made else 200)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _bad("title", "укажите название беседы")
    if len(title.strip()) > chats.MAX_TITLE:
        raise _bad("title", f"название не длиннее {chats.MAX_TITLE} символов")
    public = data.get("public", kind == "channel")
    if not isinstance(public, bool):
        raise _bad("public", "нужно true или false")
    chat = await chats_of(request).create(me, kind, title.strip(), people, public)
    _publish(request, {"event": "chat", "chat_id": chat["id"]}, tuple(m["id"] for m in chat["members"]))
    return ok(public_chat(chat), 201)


async def get_chat(request: web.Request) -> web.Response:
    """GET /api/crm/chats/{id}: a chat with its members and what the caller may do in it."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    return ok({**public_chat(chat), "may_post": chats.may_post(chat), "may_manage": chats.may_manage(chat)})


async def change_chat(request: web.Request) -> web.Response:
    """PATCH /api/crm/chats/{id} {title?, muted?}: rename a group or channel (who may add people), or
    mute a chat of mine (its messages leave the badge; a mention still tells me)."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    data = await _body(request)
    unknown = sorted(set(data) - {"title", "muted"})
    if unknown or not data:
        raise _bad(unknown[0] if unknown else "title", "можно изменить название (title) и звук (muted)")
    if "muted" in data:
        if not isinstance(data["muted"], bool):
            raise _bad("muted", "true или false")
        if not chat.get("my_role"):
            raise _forbidden("выключить звук можно только в своей беседе")
    title = data.get("title")
    if title is not None:
        if chat["kind"] == "direct" or not chats.may_manage(chat):
            raise _forbidden("переименовать можно группу (её участники) или канал (владелец, админы)")
        if not isinstance(title, str) or not title.strip() or len(title.strip()) > chats.MAX_TITLE:
            raise _bad("title", f"название от 1 до {chats.MAX_TITLE} символов")
        await chats_of(request).rename(chat["id"], title.strip())
    if "muted" in data:
        await chats_of(request).set_muted(chat["id"], me, data["muted"])
    members = tuple(m["id"] for m in chat["members"]) if title is not None else (me,)
    _publish(request, {"event": "chat", "chat_id": chat["id"]}, members)
    return ok(public_chat(await chats_of(request).chat(chat["id"], me)))


async def add_member(request: web.Request) -> web.Response:
    """POST /api/crm/chats/{id}/members {employee_id}: add someone, or join a public channel oneself."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    employee_id = _id(await _body(request), "employee_id", required=True)
    assert employee_id is not None
    joining = employee_id == me and not chat.get("my_role")
    if not joining and not chats.may_manage(chat):
        raise _forbidden("добавлять участников могут участники групповой беседы и владелец или админы канала")
    if len(chat["members"]) >= chats.MAX_MEMBERS:
        raise _bad("employee_id", f"в беседе не больше {chats.MAX_MEMBERS} участников")
    await _employees_exist(request, [employee_id], "employee_id")
    await chats_of(request).add_member(chat["id"], employee_id)
    updated = await chats_of(request).chat(chat["id"], me)
    _publish(request, {"event": "chat", "chat_id": chat["id"]}, tuple(m["id"] for m in updated["members"]))
    return ok(public_chat(updated), 201)


async def remove_member(request: web.Request) -> web.Response:
    """DELETE /api/crm/chats/{id}/members/{employee_id}: leave a chat, or (owner) take someone out."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    employee_id = path_id(request, "employee_id")
    if chat["kind"] == "direct":
        raise _forbidden("из беседы один на один выйти нельзя")
    if employee_id != me and chat.get("my_role") != "owner":
        raise _forbidden("убрать участника может только владелец беседы")
    if employee_id == chat["owner_id"]:
        raise _forbidden("владелец не может покинуть свою беседу")
    before = tuple(m["id"] for m in chat["members"])
    await chats_of(request).remove_member(chat["id"], employee_id)
    _publish(request, {"event": "chat", "chat_id": chat["id"]}, before)
    return ok(public_chat(await chats_of(request).chat(chat["id"], me)))


async def mark_read(request: web.Request) -> web.Response:
    """POST /api/crm/chats/{id}/read {last_id?}: I have read the chat (up to that message)."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    upto = _id(await _body(request), "last_id")
    mark = await chats_of(request).mark_read(chat["id"], me, upto) if chat.get("my_role") else 0
    _publish(request, {"event": "read", "chat_id": chat["id"], "last_read_id": mark}, (me,))
    return ok(
        {"chat_id": chat["id"], "last_read_id": mark, "unread": await chats_of(request).unread_total(me)}
    )


# -- messages ----------------------------------------------------------------------------------


async def list_messages(request: web.Request) -> web.Response:
    """GET /api/crm/chats/{id}/messages?before=&limit=: a page of history, oldest first."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    before = query_int(request, "before", 0)
    limit = query_int(request, "limit", chats.PAGE)
    if before < 0:
        raise _bad("before", "нужен номер сообщения")
    if not 1 <= limit <= chats.MAX_PAGE:
        raise _bad("limit", f"от 1 до {chats.MAX_PAGE} сообщений за раз")
    items, more = await chats_of(request).messages(chat["id"], before or None, limit)
    return ok({"items": items, "next_before": more, "last_read_id": chat["last_read_id"]})


async def post_message(request: web.Request) -> web.Response:
    """POST /api/crm/chats/{id}/messages {text, reply_to?}: members hear it, @mentioned are notified."""
    me = await _me(request)
    chat = await _visible_chat(request, me)
    if not chats.may_post(chat):
        raise _forbidden(
            "в канал пишут только его владелец и админы"
            if chat.get("my_role")
            else "писать могут только участники беседы"
        )
    data = await _body(request)
    unknown = sorted(set(data) - {"text", "reply_to"})
    if unknown:
        raise _bad(unknown[0], "неизвестное поле")
    text = _text(data)
    reply_to = _id(data, "reply_to")
    mentions = [m for m in mentioned(text, chat["members"]) if m != me]
    message = await chats_of(request).post(chat["id"], me, text, reply_to, mentions)
    _publish(
        request,
        {"event": "message", "chat_id": chat["id"], "title": _title(chat, me), "message": message},
        tuple(m["id"] for m in chat["members"]),
    )
    return ok(message, 201)


def _title(chat: Row, me: int) -> str:
    """How the chat is named in a notice: its title, or for a direct chat the author's name."""
    if chat["kind"] != "direct":
        return str(chat["title"])
    return next((m["name"] for m in chat["members"] if m["id"] == me), "")


async def _own_message(request: web.Request, me: int) -> tuple[Row, Row]:
    """The message of the path and its chat, if `me` may read the chat."""
    message = await chats_of(request).message(path_id(request))
    chat = await chats_of(request).chat(message["chat_id"], me)
    if not chats.may_read(chat):
        raise Problem(404, "Not Found", "сообщение не найдено")
    return message, chat


async def edit_message(request: web.Request) -> web.Response:
    """PATCH /api/crm/chats/messages/{id} {text}: its author corrects it."""
    me = await _me(request)
    message, chat = await _own_message(request, me)
    if message["author_id"] != me:
        raise _forbidden("изменить можно только своё сообщение")
    data = await _body(request)
    text = _text(data)
    mentions = [m for m in mentioned(text, chat["members"]) if m != me]
    edited, fresh = await chats_of(request).edit(message["id"], text, mentions)
    payload = {"event": "edited", "chat_id": chat["id"], "title": _title(chat, me), "message": edited}
    _publish(request, {**payload, "new_mentions": fresh}, tuple(m["id"] for m in chat["members"]))
    return ok(edited)


async def react(request: web.Request) -> web.Response:
    """POST /api/crm/chats/messages/{id}/reactions {emoji}: put a reaction on, or take mine off."""
    me = await _me(request)
    message, chat = await _own_message(request, me)
    emoji = (await _body(request)).get("emoji")
    if emoji not in chats.REACTIONS:
        raise _bad("emoji", f"реакция — одна из: {' '.join(chats.REACTIONS)}")
    if not chat.get("my_role"):
        raise _forbidden("реакции ставят участники беседы")
    updated = await chats_of(request).toggle_reaction(message["id"], me, str(emoji))
    _publish(
        request,
        {"event": "reaction", "chat_id": chat["id"], "message": updated},
        tuple(m["id"] for m in chat["members"]),
    )
    return ok(updated)


async def task_from_message(request: web.Request) -> web.Response:
    """POST /api/crm/chats/messages/{id}/task {title?, assignee_id?, deadline?}: a task that links back."""
    principal = await require(request)
    me = await _me(request)
    message, chat = await _own_message(request, me)
    data = await _body(request)
    data.setdefault("title", chats.task_title(message["text"]))
    body = parse(data, TASK_FIELDS)
    body["assignee_id"] = body.get("assignee_id") or me
    await _employees_exist(request, [body["assignee_id"]], "assignee_id")
    check_owner(principal, "tasks", CHANGE, {**body, "author_id": me})
    task = await store_of(request).notes.add_task(body, me)  # the same path as POST /api/crm/tasks
    linked = await chats_of(request).link_task(message["id"], task["id"])
    store_of(request).changes.poke()
    _publish(
        request,
        {"event": "edited", "chat_id": chat["id"], "message": linked},
        tuple(m["id"] for m in chat["members"]),
    )
    return ok({"task": task, "message": linked}, 201)


async def task_origin(request: web.Request) -> web.Response:
    """GET /api/crm/chats/tasks/{id}: the chat and message a task was made from (404 if none)."""
    me = await _me(request)
    found = await chats_of(request).message_of_task(path_id(request))
    if found is None:
        raise Problem(404, "Not Found", "задача поставлена не из чата")
    chat = await chats_of(request).chat(found["chat_id"], me)
    if not chats.may_read(chat):
        raise Problem(404, "Not Found", "сообщение не найдено")
    return ok(found)


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_get("/api/crm/chats", list_chats)
    router.add_post("/api/crm/chats", create_chat)
    router.add_get("/api/crm/chats/unread", unread)
    router.add_patch("/api/crm/chats/messages/{id}", edit_message)
    router.add_post("/api/crm/chats/messages/{id}/reactions", react)
    router.add_post("/api/crm/chats/messages/{id}/task", task_from_message)
    router.add_get("/api/crm/chats/tasks/{id}", task_origin)
    router.add_get("/api/crm/chats/{id}", get_chat)
    router.add_patch("/api/crm/chats/{id}", change_chat)
    router.add_post("/api/crm/chats/{id}/members", add_member)
    router.add_delete("/api/crm/chats/{id}/members/{employee_id}", remove_member)
    router.add_post("/api/crm/chats/{id}/read", mark_read)
    router.add_get("/api/crm/chats/{id}/messages", list_messages)
    router.add_post("/api/crm/chats/{id}/messages", post_message)

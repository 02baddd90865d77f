"""Conversations between employees (manual §2.9): who sees and writes where, unread, mentions, tasks.

Each test runs on SQLite and on PostgreSQL (the `server` fixture); the people are helpers' four:
Анна (admin, 200), Марк (manager, 201), Егор (202) and Ева (203).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from adapters.builtin import chats, mentions
from adapters.builtin.chat_store import Chats
from tests.unit.builtin.helpers import ADMIN_SERVICE_TOKEN, SERVICE_TOKEN, CrmServer

WAIT = 10.0  # seconds a pushed message may take before the test gives up (no timing is asserted)


async def _call(
    http: aiohttp.ClientSession, server: CrmServer, method: str, path: str, body: Any = None, *, ext: str
) -> tuple[int, Any]:
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def _id(server: CrmServer, ext: str) -> int:
    row = await server.store.employees.by_extension(ext)
    assert row is not None
    return int(row["id"])


async def _direct(http: aiohttp.ClientSession, server: CrmServer) -> int:
    """The one-to-one chat of Егор and Ева, started by Егор."""
    status, chat = await _call(
        http,
        server,
        "POST",
        "/chats",
        {"kind": "direct", "member_ids": [await _id(server, "203")]},
        ext="202",
    )
    assert status == 201, chat
    return int(chat["id"])


async def _pushed(ws: Any, event: str) -> dict[str, Any]:
    """The next `{chat: ...}` message of kind `event` on a live stream (others skipped)."""
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads((await ws.receive()).data)
            if message.get("chat", {}).get("event") == event:
                return dict(message["chat"])


async def test_a_direct_chat_is_one_per_pair_and_hidden_from_everyone_else(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    chat_id = await _direct(http, server)
    status, again = await _call(
        http,
        server,
        "POST",
        "/chats",
        {"kind": "direct", "member_ids": [await _id(server, "202")]},
        ext="203",
    )
    assert (status, again["id"]) == (200, chat_id)
    _, listed = await _call(http, server, "GET", "/chats", ext="203")
    assert [(c["id"], c["partner"]["name"]) for c in listed["items"]] == [(chat_id, "Егор Сотрудник")]
    assert (await _call(http, server, "GET", f"/chats/{chat_id}", ext="201"))[0] == 404  # not even a manager
    assert (await _call(http, server, "GET", f"/chats/{chat_id}/messages", ext="200"))[0] == 404
    _, others = await _call(http, server, "GET", "/chats", ext="201")
    assert others["items"] == []


async def test_unread_counts_others_messages_until_read_never_ones_own(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    chat_id = await _direct(http, server)
    for text in ("Привет!", "Посмотри счёт для «Ромашки»"):
        status, _ = await _call(http, server, "POST", f"/chats/{chat_id}/messages", {"text": text}, ext="202")
        assert status == 201
    _, eva = await _call(http, server, "GET", "/chats/unread", ext="203")
    _, egor = await _call(http, server, "GET", "/chats/unread", ext="202")
    assert (eva, egor) == ({"unread": 2, "mentions": 0}, {"unread": 0, "mentions": 0})
    _, listed = await _call(http, server, "GET", "/chats", ext="203")
    assert listed["items"][0]["last"]["text"] == "Посмотри счёт для «Ромашки»"
    status, read = await _call(http, server, "POST", f"/chats/{chat_id}/read", {}, ext="203")
    assert (status, read["unread"]) == (200, {"unread": 0, "mentions": 0})


async def test_a_mention_reaches_the_mentioned_at_once_and_counts_apart(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    people = [await _id(server, "203"), await _id(server, "201")]
    body = {"kind": "group", "title": "Отдел продаж", "member_ids": people}
    status, group = await _call(http, server, "POST", "/chats", body, ext="202")
    assert status == 201
    ws = await http.ws_connect(f"{server.url}/api/live", headers=server.headers("203"))
    async with asyncio.timeout(WAIT):
        await server.hub.wait_for_subscribers(1)
    text = "@Ева Сотрудник, позвони клиенту"
    await _call(http, server, "POST", f"/chats/{group['id']}/messages", {"text": text}, ext="202")
    pushed = await _pushed(ws, "message")
    assert pushed["title"] == "Отдел продаж"
    assert (pushed["message"]["text"], pushed["message"]["mentions"]) == (text, [await _id(server, "203")])
    _, eva = await _call(http, server, "GET", "/chats/unread", ext="203")
    _, mark = await _call(http, server, "GET", "/chats/unread", ext="201")
    assert (eva, mark) == ({"unread": 1, "mentions": 1}, {"unread": 1, "mentions": 0})
    await ws.close()


async def test_a_reply_is_quoted_an_edit_is_the_authors_a_reaction_toggles(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    chat_id = await _direct(http, server)
    path = f"/chats/{chat_id}/messages"
    _, first = await _call(http, server, "POST", path, {"text": "Во сколько встреча?"}, ext="202")
    status, reply = await _call(
        http, server, "POST", path, {"text": "В 15:00", "reply_to": first["id"]}, ext="203"
    )
    assert (status, reply["reply"]["text"], reply["reply"]["author_name"]) == (
        201, "Во сколько встреча?", "Егор Сотрудник"
    )  # fmt: skip
    status, _ = await _call(
        http, server, "PATCH", f"/chats/messages/{first['id']}", {"text": "Чужое"}, ext="203"
    )
    assert status == 403
    status, edited = await _call(
        http, server, "PATCH", f"/chats/messages/{first['id']}", {"text": "Во сколько созвон?"}, ext="202"
    )
    assert (status, edited["text"]) == (200, "Во сколько созвон?") and edited["edited_at"]
    eva, egor = await _id(server, "203"), await _id(server, "202")
    react = f"/chats/messages/{first['id']}/reactions"
    await _call(http, server, "POST", react, {"emoji": "👍"}, ext="203")
    _, both = await _call(http, server, "POST", react, {"emoji": "👍"}, ext="202")
    assert both["reactions"] == [{"emoji": "👍", "by": sorted([eva, egor])}]
    _, off = await _call(http, server, "POST", react, {"emoji": "👍"}, ext="203")
    assert off["reactions"] == [{"emoji": "👍", "by": [egor]}]
    status, bad = await _call(http, server, "POST", react, {"emoji": "💩"}, ext="203")
    assert status == 422 and bad["errors"][0]["message"].startswith("реакция — одна из")


async def test_only_a_channels_owner_and_admins_post_and_a_public_one_is_read_by_all(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, channel = await _call(
        http, server, "POST", "/chats",
        {"kind": "channel", "title": "Новости компании", "member_ids": [await _id(server, "202")]}, ext="200",
    )  # fmt: skip
    assert (status, channel["public"]) == (201, True)
    path = f"/chats/{channel['id']}/messages"
    assert (await _call(http, server, "POST", path, {"text": "С понедельника новый прайс"}, ext="200"))[
        0
    ] == 201
    status, refused = await _call(http, server, "POST", path, {"text": "А можно вопрос?"}, ext="202")
    assert (status, refused["detail"]) == (403, "в канал пишут только его владелец и админы")
    status, history = await _call(http, server, "GET", path, ext="203")  # no member, but public
    assert (status, [m["text"] for m in history["items"]]) == (200, ["С понедельника новый прайс"])
    _, listed = await _call(http, server, "GET", "/chats", ext="203")
    assert [(c["title"], c["member"]) for c in listed["items"]] == [("Новости компании", False)]
    eva = await _id(server, "203")
    status, joined = await _call(
        http, server, "POST", f"/chats/{channel['id']}/members", {"employee_id": eva}, ext="203"
    )
    assert status == 201 and eva in [m["id"] for m in joined["members"]]
    _, private = await _call(
        http,
        server,
        "POST",
        "/chats",
        {"kind": "channel", "title": "Руководство", "public": False},
        ext="200",
    )
    assert (await _call(http, server, "GET", f"/chats/{private['id']}/messages", ext="203"))[0] == 404


async def test_a_task_made_from_a_message_links_back_to_it_once(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    chat_id = await _direct(http, server)
    _, message = await _call(
        http,
        server,
        "POST",
        f"/chats/{chat_id}/messages",
        {"text": "Подготовить КП для «Ромашки»\nдо пятницы"},
        ext="202",
    )
    eva = await _id(server, "203")
    path = f"/chats/messages/{message['id']}/task"
    status, made = await _call(http, server, "POST", path, {"assignee_id": eva}, ext="202")
    assert status == 201
    task = made["task"]
    assert (task["title"], task["assignee_id"]) == ("Подготовить КП для «Ромашки»", eva)
    assert (made["message"]["task_id"], made["message"]["task_title"]) == (task["id"], task["title"])
    _, tasks = await _call(http, server, "GET", "/tasks?mine=1", ext="203")
    assert [t["id"] for t in tasks["items"]] == [task["id"]]
    status, origin = await _call(http, server, "GET", f"/chats/tasks/{task['id']}", ext="203")
    assert (status, origin) == (200, {"message_id": message["id"], "chat_id": chat_id})
    assert (await _call(http, server, "GET", f"/chats/tasks/{task['id']}", ext="201"))[0] == 404
    assert (await _call(http, server, "POST", path, {}, ext="203"))[0] == 409


async def test_bad_input_is_refused_in_russian(server: CrmServer, http: aiohttp.ClientSession) -> None:
    chat_id = await _direct(http, server)
    path = f"/chats/{chat_id}/messages"
    status, empty = await _call(http, server, "POST", path, {"text": "   "}, ext="202")
    assert (status, empty["errors"][0]["message"]) == (422, "сообщение не может быть пустым")
    status, long = await _call(http, server, "POST", path, {"text": "я" * (chats.MAX_TEXT + 1)}, ext="202")
    assert status == 422 and "длиннее 4000 символов" in long["errors"][0]["message"]
    status, kind = await _call(http, server, "POST", "/chats", {"kind": "room"}, ext="202")
    assert status == 422 and kind["errors"][0]["field"] == "kind"
    status, nobody = await _call(
        http, server, "POST", "/chats", {"kind": "direct", "member_ids": [9999]}, ext="202"
    )
    assert (status, nobody["errors"][0]["message"]) == (422, "нет такого сотрудника: 9999")
    many = list(range(1, chats.MAX_MEMBERS + 1))
    status, crowd = await _call(
        http, server, "POST", "/chats", {"kind": "group", "title": "Все", "member_ids": many}, ext="202"
    )
    assert (status, crowd["errors"][0]["message"]) == (422, "в беседе не больше 200 участников")
    status, page = await _call(http, server, "GET", f"{path}?limit=500", ext="202")
    assert status == 422 and page["errors"][0]["field"] == "limit"
    assert (await _call(http, server, "POST", path, {"text": "x", "reply_to": 424242}, ext="202"))[0] == 404


async def test_history_pages_back_by_id_to_the_first_message(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    chat_id = await _direct(http, server)
    store = Chats(server.store.db)
    egor = await _id(server, "202")
    for n in range(1, 121):
        await store.post(chat_id, egor, f"сообщение {n}", None, [])
    seen: list[str] = []
    cursor: int | None = 0
    pages = 0
    while cursor is not None:
        query = f"?before={cursor}" if cursor else ""
        status, page = await _call(http, server, "GET", f"/chats/{chat_id}/messages{query}", ext="203")
        assert status == 200
        seen = [m["text"] for m in page["items"]] + seen
        cursor = page["next_before"]
        pages += 1
    assert pages == 3 and seen == [f"сообщение {n}" for n in range(1, 121)]


async def test_integration_tokens_have_no_chats(server: CrmServer, http: aiohttp.ClientSession) -> None:
    statuses = []
    for token in (SERVICE_TOKEN, ADMIN_SERVICE_TOKEN):
        async with http.get(f"{server.url}/api/crm/chats", headers={"Authorization": f"Bearer {token}"}) as r:
            statuses.append(r.status)
    assert statuses == [403, 409]  # the service role has no chats; an admin's token is nobody


def test_a_mention_is_a_whole_name_or_login_not_a_prefix_of_another() -> None:
    people = [
        {"id": 1, "name": "Ева Сотрудник", "login": "eva"},
        {"id": 2, "name": "Ева", "login": "eva2"},
        {"id": 3, "name": "Егор Сотрудник", "login": "egor"},
    ]
    assert mentions.mentioned("@ева сотрудник, глянь", people) == [1, 2]
    assert mentions.mentioned("@Евгений зайди", people) == []
    assert mentions.mentioned("спроси @egor.", people) == [3]
    assert mentions.mentioned("почта egor@example.com", people) == []


def test_who_posts_reads_and_manages_follows_the_kind_and_role() -> None:
    channel = {"kind": "channel", "public": 1, "my_role": "member"}
    assert chats.may_read(channel) and not chats.may_post(channel) and not chats.may_manage(channel)
    assert chats.may_post({**channel, "my_role": "admin"})
    assert chats.may_read({**channel, "my_role": None}) and not chats.may_read(
        {**channel, "public": 0, "my_role": None}
    )
    direct = {"kind": "direct", "public": 0, "my_role": "member"}
    assert chats.may_post(direct) and not chats.may_manage(direct)


async def test_a_muted_chat_leaves_the_badge_but_its_mentions_still_count(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    people = [await _id(server, "203"), await _id(server, "201")]
    _, group = await _call(
        http, server, "POST", "/chats", {"kind": "group", "title": "Курилка", "member_ids": people}, ext="202"
    )
    path = f"/chats/{group['id']}"
    status, muted = await _call(http, server, "PATCH", path, {"muted": True}, ext="203")
    assert status == 200 and muted["muted"] is True
    for text in ("обед в 13:00", "кто за пиццей?", "@Ева Сотрудник, ты с нами?"):
        await _call(http, server, "POST", f"{path}/messages", {"text": text}, ext="202")
    _, eva = await _call(http, server, "GET", "/chats/unread", ext="203")
    _, mark = await _call(http, server, "GET", "/chats/unread", ext="201")
    assert (eva, mark) == ({"unread": 1, "mentions": 1}, {"unread": 3, "mentions": 0})  # Ева: the mention
    _, listed = await _call(http, server, "GET", "/chats", ext="203")
    [row] = [c for c in listed["items"] if c["id"] == group["id"]]
    assert (row["muted"], row["unread"]) == (True, 3)  # the list still says how much there is to read
    await _call(http, server, "PATCH", path, {"muted": False}, ext="203")
    assert (await _call(http, server, "GET", "/chats/unread", ext="203"))[1] == {"unread": 3, "mentions": 1}
    status, _ = await _call(http, server, "PATCH", path, {"muted": "yes"}, ext="203")
    assert status == 422


async def test_a_group_is_renamed_by_its_members_a_channel_by_its_owner_a_direct_chat_never(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    people = [await _id(server, "203")]
    _, group = await _call(
        http, server, "POST", "/chats", {"kind": "group", "title": "Склад", "member_ids": people}, ext="202"
    )
    ws = await http.ws_connect(f"{server.url}/api/live", headers=server.headers("202"))
    async with asyncio.timeout(WAIT):
        await server.hub.wait_for_subscribers(1)
    status, renamed = await _call(
        http, server, "PATCH", f"/chats/{group['id']}", {"title": " Склад №2 "}, ext="203"
    )
    assert (status, renamed["title"]) == (200, "Склад №2")
    assert (await _pushed(ws, "chat"))["chat_id"] == group["id"]  # the other members' lists follow
    await ws.close()
    _, channel = await _call(
        http,
        server,
        "POST",
        "/chats",
        {"kind": "channel", "title": "Новости", "member_ids": people},
        ext="202",
    )
    assert (await _call(http, server, "PATCH", f"/chats/{channel['id']}", {"title": "Мои"}, ext="203"))[
        0
    ] == 403
    assert (await _call(http, server, "PATCH", f"/chats/{channel['id']}", {"title": "Анонсы"}, ext="202"))[
        0
    ] == 200
    direct = await _direct(http, server)
    assert (await _call(http, server, "PATCH", f"/chats/{direct}", {"title": "Мы"}, ext="202"))[0] == 403
    status, _ = await _call(http, server, "PATCH", f"/chats/{group['id']}", {"title": "я" * 81}, ext="202")
    assert status == 422
    status, _ = await _call(http, server, "PATCH", f"/chats/{group['id']}", {"pinned": True}, ext="202")
    assert status == 422

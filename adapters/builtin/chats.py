"""The rules of conversations between employees (docs/chats.md): bounds, who may post, mentions.

Pure functions over rows the store gives: the routes ask here before they write, so the rules
are read in one place and tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

KINDS = ("direct", "group", "channel")
MAX_TEXT = 4000  # characters in one message
MAX_TITLE = 80  # characters in a group's or channel's name
MAX_MEMBERS = 200  # people in one chat (a company-wide channel of a sales office fits)
PAGE = 50  # messages in one page of history, by default
MAX_PAGE = 100  # and at most
MAX_CHATS = 500  # chats in one person's list
REACTIONS = ("👍", "❤️", "😂", "🎉", "👀", "✅")  # a closed set: what the picker offers
POSTERS = ("owner", "admin")  # who posts in a channel

_GOES_ON = re.compile(r"\w|[.-]\w")  # the handle is part of a longer word (a full stop ends it)


def may_read(chat: Mapping[str, Any]) -> bool:
    """A member reads a chat; anyone reads a public channel."""
    return bool(chat.get("my_role")) or (chat["kind"] == "channel" and bool(chat["public"]))


def may_post(chat: Mapping[str, Any]) -> bool:
    """Members post in direct and group chats; only a channel's owner and admins post in it."""
    role = chat.get("my_role")
    if not role:
        return False
    return chat["kind"] != "channel" or role in POSTERS


def may_manage(chat: Mapping[str, Any]) -> bool:
    """Who adds people: any member of a group, a channel's owner and admins; nobody in a direct chat."""
    role = chat.get("my_role")
    if chat["kind"] == "direct" or not role:
        return False
    return chat["kind"] == "group" or role in POSTERS


def mentioned(text: str, people: Iterable[Mapping[str, Any]]) -> list[int]:
    """Ids of `people` (id, name, login) the text @mentions by full name or login, in no order.

    A longer name wins over its prefix only in that both match: «@Ева Сотрудник» and «@Ева» each
    need the whole word after them to end, so «@Евгений» is not «@Ева».
    """
    folded = text.casefold()
    found: set[int] = set()
    for person in people:
        for handle in (person.get("name") or "", person.get("login") or ""):
            if handle and _says(folded, "@" + handle.casefold()):
                found.add(int(person["id"]))
    return sorted(found)


def _says(text: str, handle: str) -> bool:
    start = text.find(handle)
    while start >= 0:
        end = start + len(handle)
        if not _GOES_ON.match(text, end):
            return True
        start = text.find(handle, start + 1)
    return False


def excerpt(text: str, limit: int = 140) -> str:
    """The start of a message on one line, for a reply's quote and the list's preview."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def task_title(text: str) -> str:
    """A task's title from a message: its first line, cut to fit the task's title."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "Задача из чата")
    return excerpt(first, 200)

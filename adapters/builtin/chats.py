"""The rules of conversations between employees (docs/chats.md): bounds, who may post.

@mentions follow mentions.py, the rule comments on a card share.

Pure functions over rows the store gives: the routes ask here before they write, so the rules
are read in one place and tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def excerpt(text: str, limit: int = 140) -> str:
    """The start of a message on one line, for a reply's quote and the list's preview."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def task_title(text: str) -> str:
    """A task's title from a message: its first line, cut to fit the task's title."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "Задача из чата")
    return excerpt(first, 200)

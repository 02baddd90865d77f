"""The conversations' records (schema_chats.sql): chats, members, messages, mentions, reactions.

Every read is made for one viewer (`me`, an employee id): the chat rows carry `my_role` (None when
the viewer is no member) so the rules in `adapters.builtin.chats` can be asked. The schema is
created on first use, so the store needs no start-up step of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib import resources
from typing import Any

from adapters.builtin.chats import MAX_CHATS, excerpt
from adapters.builtin.db import ConflictError, Connection, Database, NotFoundError, Row, now_iso

_CHAT = (
    "SELECT c.id, c.kind, c.title, c.public, c.owner_id, c.last_message_id, c.created_at,"
    " m.role AS my_role, COALESCE(m.last_read_id, 0) AS last_read_id, COALESCE(m.muted, 0) AS muted"
    " FROM chats c"
    " LEFT JOIN chat_members m ON m.chat_id = c.id AND m.employee_id = ?"
)
_MESSAGE = (
    "SELECT x.id, x.chat_id, x.author_id, e.name AS author_name, x.text, x.reply_to, x.task_id,"
    " t.title AS task_title, t.done AS task_done, x.created_at, x.edited_at FROM chat_messages x"
    " LEFT JOIN employees e ON e.id = x.author_id LEFT JOIN tasks t ON t.id = x.task_id"
)


async def ensure_schema(db: Database) -> None:
    """Create the chat tables (idempotent); a member's mute came later (added to older tables)."""
    script = resources.files("adapters.builtin").joinpath("schema_chats.sql").read_text("utf-8")
    await db.apply_script(script)
    await db.add_columns("chat_members", [("muted", "INTEGER NOT NULL DEFAULT 0")])


class Chats:
    """Chats and their messages in the CRM's database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self) -> None:
        """Create the tables once per process (before the first read or write)."""
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                await ensure_schema(self.db)
                self._ready = True

    # -- chats ---------------------------------------------------------------------------------

    async def chat(self, chat_id: int, me: int) -> Row:
        """One chat as `me` sees it, with its members (NotFoundError when there is none)."""
        await self.ready()
        row = await self.db.fetch_one(f"{_CHAT} WHERE c.id = ?", (me, chat_id))
        if row is None:
            raise NotFoundError("chat", chat_id)
        row["members"] = await self.members(chat_id)
        return row

    async def members(self, chat_id: int) -> list[Row]:
        """A chat's people: owner first, then admins, then by name."""
        return await self.db.fetch_all(
            "SELECT e.id, e.name, e.login, m.role FROM chat_members m"
            " JOIN employees e ON e.id = m.employee_id WHERE m.chat_id = ?"
            " ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END,"
            " e.name",
            (chat_id,),
        )

    async def member_ids(self, chat_id: int) -> tuple[int, ...]:
        """The ids of a chat's members (who hears of its news)."""
        rows = await self.db.fetch_all("SELECT employee_id FROM chat_members WHERE chat_id = ?", (chat_id,))
        return tuple(int(r["employee_id"]) for r in rows)

    async def list_for(self, me: int) -> list[Row]:
        """`me`'s chats and the public channels, newest conversation first, with unread counts."""
        await self.ready()
        rows = await self.db.fetch_all(
            f"{_CHAT} WHERE m.employee_id IS NOT NULL OR (c.kind = 'channel' AND c.public = 1)"
            f" ORDER BY c.last_message_id DESC, c.id DESC LIMIT {MAX_CHATS}",
            (me,),
        )
        unread = await self._counts(me)
        last = await self._last_messages([r["last_message_id"] for r in rows if r["last_message_id"]])
        partners = await self._partners(me, [r["id"] for r in rows if r["kind"] == "direct"])
        for row in rows:
            row["unread"], row["mentions"] = unread.get(row["id"], (0, 0))
            row["last"] = last.get(row["last_message_id"])
            row["partner"] = partners.get(row["id"])
        return rows

    async def _counts(self, me: int, *, muted: bool = True) -> dict[int, tuple[int, int]]:
        """Per chat of `me`: messages of others past what `me` read, and how many of them mention `me`
        (`muted=False`: a chat `me` muted counts only its mentions)."""
        rows = await self.db.fetch_all(
            "SELECT x.chat_id, COUNT(*) AS unread, COUNT(n.employee_id) AS mentions, MAX(m.muted) AS muted"
            " FROM chat_messages x JOIN chat_members m ON m.chat_id = x.chat_id AND m.employee_id = ?"
            " LEFT JOIN chat_mentions n ON n.message_id = x.id AND n.employee_id = ?"
            " WHERE x.id > m.last_read_id AND (x.author_id IS NULL OR x.author_id <> ?) GROUP BY x.chat_id",
            (me, me, me),
        )
        out: dict[int, tuple[int, int]] = {}
        for r in rows:
            shown = r["mentions"] if r["muted"] and not muted else r["unread"]
            out[int(r["chat_id"])] = (int(shown), int(r["mentions"]))
        return out

    async def unread_total(self, me: int) -> dict[str, int]:
        """What the navigation's badge shows: unread messages and unread mentions over all chats; a
        chat `me` muted adds only the messages that mention `me`."""
        await self.ready()
        counts = (await self._counts(me, muted=False)).values()
        return {"unread": sum(c[0] for c in counts), "mentions": sum(c[1] for c in counts)}

    async def rename(self, chat_id: int, title: str) -> None:
        """Give a group chat or a channel another name."""
        await self.db.write("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    async def set_muted(self, chat_id: int, me: int, muted: bool) -> None:
        """A member's chat without (or again with) its unread count in the badge; mentions still tell."""
        await self.db.write(
            "UPDATE chat_members SET muted = ? WHERE chat_id = ? AND employee_id = ?",
            (int(muted), chat_id, me),
        )

    async def _last_messages(self, ids: Sequence[int]) -> dict[int, Row]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = await self.db.fetch_all(
            "SELECT x.id, x.author_id, e.name AS author_name, x.text, x.created_at FROM chat_messages x"
            f" LEFT JOIN employees e ON e.id = x.author_id WHERE x.id IN ({marks})",
            list(ids),
        )
        return {int(r["id"]): {**r, "text": excerpt(r["text"], 90)} for r in rows}

    async def _partners(self, me: int, chat_ids: Sequence[int]) -> dict[int, Row]:
        """The other person of each direct chat (the chat's name is theirs)."""
        if not chat_ids:
            return {}
        marks = ", ".join("?" for _ in chat_ids)
        rows = await self.db.fetch_all(
            "SELECT m.chat_id, e.id, e.name FROM chat_members m JOIN employees e ON e.id = m.employee_id"
            f" WHERE m.chat_id IN ({marks}) AND m.employee_id <> ?",
            [*chat_ids, me],
        )
        return {int(r["chat_id"]): {"id": r["id"], "name": r["name"]} for r in rows}

    async def direct(self, me: int, other: int) -> tuple[Row, bool]:
        """The one chat of `me` and `other` (made now when missing); whether it was made."""
        await self.ready()
        key = f"{min(me, other)}:{max(me, other)}"
        found = await self.db.scalar("SELECT id FROM chats WHERE direct_key = ?", (key,))
        if found is not None:
            return await self.chat(int(found), me), False
        async with self.db.transaction() as conn:
            chat_id = await _insert_chat(conn, "direct", "", False, me, key=key)
            await _insert_members(conn, chat_id, [(me, "owner"), (other, "member")])
        return await self.chat(chat_id, me), True

    async def create(self, me: int, kind: str, title: str, people: Sequence[int], public: bool) -> Row:
        """A group chat or a channel: `me` owns it, `people` are its members."""
        await self.ready()
        async with self.db.transaction() as conn:
            chat_id = await _insert_chat(conn, kind, title, public and kind == "channel", me, key=None)
            others = [(p, "member") for p in dict.fromkeys(people) if p != me]
            await _insert_members(conn, chat_id, [(me, "owner"), *others])
        return await self.chat(chat_id, me)

    async def add_member(self, chat_id: int, employee_id: int) -> None:
        """Put someone in a chat (ConflictError when they are in it already)."""
        await self.ready()
        if employee_id in await self.member_ids(chat_id):
            raise ConflictError("этот сотрудник уже участник беседы")
        async with self.db.transaction() as conn:
            await _insert_members(conn, chat_id, [(employee_id, "member")])
            # history before joining counts as read: a newcomer's badge starts at nought
            await conn.execute(
                "UPDATE chat_members SET last_read_id = (SELECT last_message_id FROM chats WHERE id = ?)"
                " WHERE chat_id = ? AND employee_id = ?",
                (chat_id, chat_id, employee_id),
            )

    async def remove_member(self, chat_id: int, employee_id: int) -> None:
        """Take someone out of a chat."""
        await self.db.write(
            "DELETE FROM chat_members WHERE chat_id = ? AND employee_id = ?", (chat_id, employee_id)
        )

    async def mark_read(self, chat_id: int, me: int, upto: int | None) -> int:
        """`me` has read up to message `upto` (the newest when None); never moves back. The mark set."""
        await self.ready()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT last_message_id FROM chats WHERE id = ?", (chat_id,)) as cur:
                found = await cur.fetchone()
            newest = int(found[0]) if found else 0
            mark = newest if upto is None else min(upto, newest)
            await conn.execute(
                "UPDATE chat_members SET last_read_id = ? WHERE chat_id = ? AND employee_id = ?"
                " AND last_read_id < ?",
                (mark, chat_id, me, mark),
            )
        return mark

    # -- messages ------------------------------------------------------------------------------

    async def messages(self, chat_id: int, before: int | None, limit: int) -> tuple[list[Row], int | None]:
        """A page of history, oldest first, of messages before id `before`; the next page's cursor."""
        await self.ready()
        cond, params = ("AND x.id < ?", [chat_id, before]) if before else ("", [chat_id])
        rows = await self.db.fetch_all(
            f"{_MESSAGE} WHERE x.chat_id = ? {cond} ORDER BY x.id DESC LIMIT ?", [*params, limit + 1]
        )
        more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        await self._decorate(rows)
        return rows, (int(rows[0]["id"]) if more and rows else None)

    async def message(self, message_id: int) -> Row:
        """One message with its reply's quote and its reactions (NotFoundError when there is none)."""
        await self.ready()
        row = await self.db.fetch_one(f"{_MESSAGE} WHERE x.id = ?", (message_id,))
        if row is None:
            raise NotFoundError("message", message_id)
        await self._decorate([row])
        return row

    async def _decorate(self, rows: list[Row]) -> None:
        """Each message's quote of what it answers, its reactions (emoji → who) and its mentions."""
        if not rows:
            return
        ids = [r["id"] for r in rows]
        marks = ", ".join("?" for _ in ids)
        reactions = await self.db.fetch_all(
            f"SELECT message_id, emoji, employee_id FROM chat_reactions WHERE message_id IN ({marks})"
            " ORDER BY created_at, employee_id",
            ids,
        )
        mentions = await self.db.fetch_all(
            f"SELECT message_id, employee_id FROM chat_mentions WHERE message_id IN ({marks})", ids
        )
        replies = [r["reply_to"] for r in rows if r["reply_to"]]
        quotes = await self._quotes(replies)
        for row in rows:
            by_emoji: dict[str, list[int]] = {}
            for r in reactions:
                if r["message_id"] == row["id"]:
                    by_emoji.setdefault(r["emoji"], []).append(int(r["employee_id"]))
            row["reactions"] = [{"emoji": k, "by": sorted(v)} for k, v in by_emoji.items()]
            row["mentions"] = [int(r["employee_id"]) for r in mentions if r["message_id"] == row["id"]]
            row["reply"] = quotes.get(row["reply_to"]) if row["reply_to"] else None

    async def _quotes(self, ids: Sequence[int]) -> dict[int, Row]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = await self.db.fetch_all(
            "SELECT x.id, e.name AS author_name, x.text FROM chat_messages x"
            f" LEFT JOIN employees e ON e.id = x.author_id WHERE x.id IN ({marks})",
            list(ids),
        )
        return {int(r["id"]): {**r, "text": excerpt(r["text"])} for r in rows}

    async def post(
        self, chat_id: int, author: int, text: str, reply_to: int | None, mentions: Sequence[int]
    ) -> Row:
        """Add a message (the author has read the chat up to it); the message."""
        await self.ready()
        if reply_to is not None:
            owner = await self.db.scalar("SELECT chat_id FROM chat_messages WHERE id = ?", (reply_to,))
            if owner != chat_id:
                raise NotFoundError("message", reply_to)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO chat_messages (chat_id, author_id, text, reply_to, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (chat_id, author, text, reply_to, now_iso()),
            )
            message_id = int(cur.lastrowid or 0)
            await conn.execute("UPDATE chats SET last_message_id = ? WHERE id = ?", (message_id, chat_id))
            await conn.execute(
                "UPDATE chat_members SET last_read_id = ? WHERE chat_id = ? AND employee_id = ?",
                (message_id, chat_id, author),
            )
            await _insert_mentions(conn, message_id, mentions)
        return await self.message(message_id)

    async def edit(self, message_id: int, text: str, mentions: Sequence[int]) -> tuple[Row, list[int]]:
        """Change a message's text; the message and who is mentioned anew (to be told)."""
        before = set((await self.message(message_id))["mentions"])
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE chat_messages SET text = ?, edited_at = ? WHERE id = ?", (text, now_iso(), message_id)
            )
            await conn.execute("DELETE FROM chat_mentions WHERE message_id = ?", (message_id,))
            await _insert_mentions(conn, message_id, mentions)
        return await self.message(message_id), [m for m in mentions if m not in before]

    async def toggle_reaction(self, message_id: int, employee_id: int, emoji: str) -> Row:
        """Put `emoji` on a message from this person, or take it off when it is there; the message."""
        params = (message_id, employee_id, emoji)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM chat_reactions WHERE message_id = ? AND employee_id = ? AND emoji = ?", params
            )
            if cur.rowcount == 0:
                await conn.execute(
                    "INSERT INTO chat_reactions (message_id, employee_id, emoji, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (*params, now_iso()),
                )
        return await self.message(message_id)

    async def link_task(self, message_id: int, task_id: int) -> Row:
        """The task made from a message, kept on it (ConflictError when it has one already)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE chat_messages SET task_id = ? WHERE id = ? AND task_id IS NULL", (task_id, message_id)
            )
            if cur.rowcount == 0:
                raise ConflictError("по этому сообщению задача уже поставлена")
        return await self.message(message_id)

    async def message_of_task(self, task_id: int) -> Row | None:
        """Where a task made from a message came from: its chat and message, or None."""
        await self.ready()
        return await self.db.fetch_one(
            "SELECT id AS message_id, chat_id FROM chat_messages WHERE task_id = ?", (task_id,)
        )


async def _insert_chat(
    conn: Connection, kind: str, title: str, public: bool, owner: int, *, key: str | None
) -> int:
    cur = await conn.execute(
        "INSERT INTO chats (kind, title, public, owner_id, direct_key, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (kind, title, int(public), owner, key, now_iso()),
    )
    return int(cur.lastrowid or 0)


async def _insert_members(conn: Connection, chat_id: int, people: Sequence[tuple[int, str]]) -> None:
    await conn.executemany(
        "INSERT INTO chat_members (chat_id, employee_id, role, joined_at) VALUES (?, ?, ?, ?)",
        [(chat_id, person, role, now_iso()) for person, role in people],
    )


async def _insert_mentions(conn: Connection, message_id: int, people: Sequence[int]) -> None:
    if people:
        await conn.executemany(
            "INSERT INTO chat_mentions (message_id, employee_id) VALUES (?, ?)",
            [(message_id, person) for person in people],
        )


def public_chat(row: Row) -> dict[str, Any]:
    """A chat row as the API shows it (flags as booleans)."""
    member, muted = bool(row.get("my_role")), bool(row.get("muted"))
    return {**row, "public": bool(row["public"]), "member": member, "muted": muted}

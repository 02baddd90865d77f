"""Comments, tasks, reminders, deals with their pipelines, and the client's feed that merges them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.builtin import journal
from adapters.builtin.db import Database, NotFoundError, Row, now_iso
from adapters.builtin.deal_people import DealPeople, visible_to
from adapters.builtin.mentions import mentioned

DEAL_STATUSES = ("open", "won", "lost", "archive")
FEED_KINDS = ("call", "comment", "task", "reminder", "deal", "change", "sms", "mail")
STATUS_WORDS = {
    "open": "вернул в работу",
    "won": "закрыл успешно",
    "lost": "закрыл с отказом",
    "archive": "перенёс в архив",
}
MAX_STAGES = 8


class Notes:
    """Comments, tasks and reminders on a client (optionally tied to a call or a deal)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_comment(
        self, client_id: int | None, text: str, author_id: int | None, call_id: str | None = None
    ) -> Row:
        """Leave a comment on a client's card (and on the call it is about); the active employees it
        @mentions (not its author) are noted, to be told (`mentions` in the row)."""
        people = await self.db.fetch_all("SELECT id, name, login FROM employees WHERE active = 1")
        told = [m for m in mentioned(text, people) if m != author_id]
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO comments (client_id, call_id, author_id, text, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (client_id, call_id, author_id, text, now_iso()),
            )
            new_id = int(cursor.lastrowid or 0)
            if told:
                await conn.executemany(
                    "INSERT INTO comment_mentions (comment_id, employee_id) VALUES (?, ?)",
                    [(new_id, m) for m in told],
                )
        row = await _one(self.db, "SELECT * FROM comments WHERE id = ?", new_id, "comment")
        return {**row, "mentions": told}

    async def mark_mention_seen(self, comment_id: int, employee_id: int) -> None:
        """The employee has read the comment that mentions them (NotFoundError: no such mention)."""
        found = await self.db.scalar(
            "SELECT 1 FROM comment_mentions WHERE comment_id = ? AND employee_id = ?",
            (comment_id, employee_id),
        )
        if found is None:
            raise NotFoundError("mention", comment_id)
        await self.db.write(
            "UPDATE comment_mentions SET seen = 1 WHERE comment_id = ? AND employee_id = ?",
            (comment_id, employee_id),
        )

    async def add_task(self, fields: dict[str, Any], author_id: int | None) -> Row:
        """Create a task: title, assignee, deadline, and the client/call/deal it belongs to."""
        new_id = await self.db.write(
            "INSERT INTO tasks (client_id, call_id, deal_id, title, assignee_id, author_id, deadline,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fields.get("client_id"), fields.get("call_id"), fields.get("deal_id"), fields["title"],
                fields.get("assignee_id"), author_id, fields.get("deadline"), now_iso(),
            ),
        )  # fmt: skip
        return await self.task(new_id)

    async def task(self, task_id: int) -> Row:
        """One task (NotFoundError if absent)."""
        return await _one(self.db, "SELECT * FROM tasks WHERE id = ?", task_id, "task")

    async def set_task_done(self, task_id: int, done: bool, by: int | None = None) -> Row:
        """Mark a task done or open again (journalled: the live feed shows who finished what)."""
        task = await self.task(task_id)
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE tasks SET done = ? WHERE id = ?", (int(done), task_id))
            if done and not task["done"]:
                await journal.write(
                    conn, "task", f"Задача выполнена: {task['title']}", client_id=task["client_id"],
                    deal_id=task["deal_id"], employee_id=by,
                )  # fmt: skip
        return await self.task(task_id)

    async def set_reminder_done(self, reminder_id: int, done: bool) -> Row:
        """Dismiss a reminder (it stops alerting) or bring it back."""
        await _one(self.db, "SELECT * FROM reminders WHERE id = ?", reminder_id, "reminder")
        await self.db.write("UPDATE reminders SET done = ? WHERE id = ?", (int(done), reminder_id))
        return await _one(self.db, "SELECT * FROM reminders WHERE id = ?", reminder_id, "reminder")

    async def tasks(
        self,
        assignee_id: int | None,
        done: bool | None,
        *,
        limit: int,
        offset: int,
        involving: int | None = None,
    ) -> tuple[list[Row], int]:
        """A page of tasks, soonest deadline first (no deadline last), and the total.

        `involving` limits them to an employee's (assigned to or set by them): what an employee sees.
        """
        conds: list[str] = ["1 = 1"]
        params: list[Any] = []
        if involving is not None:
            conds.append("(assignee_id = ? OR author_id = ?)")
            params += [involving, involving]
        if assignee_id is not None:
            conds.append("assignee_id = ?")
            params.append(assignee_id)
        if done is not None:
            conds.append("done = ?")
            params.append(int(done))
        where = " AND ".join(conds)
        total = await self.db.scalar(f"SELECT COUNT(*) FROM tasks WHERE {where}", params)
        rows = await self.db.fetch_all(
            "SELECT t.*, c.name AS client_name, d.title AS deal_title, a.name AS author_name FROM tasks t"
            " LEFT JOIN clients c ON c.id = t.client_id LEFT JOIN deals d ON d.id = t.deal_id"
            " LEFT JOIN employees a ON a.id = t.author_id"
            f" WHERE {where.replace('assignee_id', 't.assignee_id').replace('done', 't.done')}"
            " ORDER BY t.deadline IS NULL, t.deadline, t.id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, int(total or 0)

    async def add_reminder(self, client_id: int, employee_id: int | None, at: str, text: str) -> Row:
        """Remind an employee about a client at a given time."""
        new_id = await self.db.write(
            "INSERT INTO reminders (client_id, employee_id, remind_at, text, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (client_id, employee_id, at, text, now_iso()),
        )
        return await _one(self.db, "SELECT * FROM reminders WHERE id = ?", new_id, "reminder")


class Deals:
    """Deals in pipelines of up to eight stages; open, won, lost or archived."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.people = DealPeople(db)

    async def ensure_pipelines(self, pipelines: Mapping[str, Sequence[str]]) -> None:
        """Create the configured pipelines that do not exist yet (existing ones are kept as edited)."""
        for name, stages in pipelines.items():
            await self.db.write(
                "INSERT INTO pipelines (name, stages) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, json.dumps(list(stages)[:MAX_STAGES], ensure_ascii=False)),
            )

    async def pipelines(self) -> list[Row]:
        """Every pipeline with its stages."""
        rows = await self.db.fetch_all("SELECT * FROM pipelines ORDER BY id")
        for row in rows:
            row["stages"] = json.loads(row["stages"])
        return rows

    async def pipeline(self, pipeline_id: int) -> Row:
        """One pipeline (NotFoundError if absent)."""
        row = await _one(self.db, "SELECT * FROM pipelines WHERE id = ?", pipeline_id, "pipeline")
        row["stages"] = json.loads(row["stages"])
        return row

    async def create(self, fields: dict[str, Any]) -> Row:
        """Open a deal; the stage defaults to the pipeline's first (its own row is its feed entry)."""
        pipeline = await self.pipeline(fields["pipeline_id"])
        stamp = now_iso()
        stage = fields.get("stage") or pipeline["stages"][0]
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO deals (client_id, pipeline_id, stage, title, value, currency, responsible_id,"
                " call_id, notes, created_at, stage_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fields.get("client_id"), pipeline["id"], stage, fields["title"], fields.get("value", 0),
                    fields.get("currency", "RUB"), fields.get("responsible_id"), fields.get("call_id"),
                    fields.get("notes", ""), stamp, stamp,
                ),
            )  # fmt: skip
            new_id = int(cursor.lastrowid or 0)
        return await self.get(new_id)

    async def get(self, deal_id: int) -> Row:
        """One deal with its client's and responsible's names and its people (NotFoundError if absent)."""
        deal = await _one(self.db, _DEAL_SELECT + " WHERE d.id = ?", deal_id, "deal")
        deal["people"] = await self.people.of(deal_id, deal["responsible_id"])
        return deal

    async def update(self, deal_id: int, changes: dict[str, Any], by: int | None = None) -> Row:
        """Move a deal to a stage, close it (won/lost/archive, with a reason), or edit it.

        Each move and close is journalled with who and when (the client's feed and the deal's history).
        """
        before = await self.get(deal_id)
        allowed = (
            "pipeline_id",
            "stage",
            "status",
            "value",
            "currency",
            "title",
            "notes",
            "responsible_id",
            "reason",
        )
        fields = {k: v for k, v in changes.items() if k in allowed}
        if fields.get("pipeline_id", before["pipeline_id"]) != before["pipeline_id"]:  # another pipeline
            moved_to = await self.pipeline(fields["pipeline_id"])
            fields.setdefault("stage", moved_to["stages"][0])
            before = {
                **before,
                "old_pipeline": (await self.pipeline(before["pipeline_id"]))["name"],
                "new_pipeline": moved_to["name"],
            }
        else:
            fields.pop("pipeline_id", None)
        if "status" in fields:
            fields["closed_at"] = None if fields["status"] == "open" else now_iso()
            fields.setdefault("reason", "")
        if "pipeline_id" in fields or ("stage" in fields and fields["stage"] != before["stage"]):
            fields["stage_since"] = now_iso()
        if not fields:
            return before
        if fields.get("responsible_id") is not None:
            sql = "SELECT name FROM employees WHERE id = ?"
            name = await self.db.scalar(sql, (fields["responsible_id"],))
            before = {**before, "new_responsible_name": name}
        async with self.db.transaction() as conn:
            sets = ", ".join(f"{k} = ?" for k in fields)
            await conn.execute(f"UPDATE deals SET {sets} WHERE id = ?", [*fields.values(), deal_id])
            for text in _deal_changes(before, fields):
                await journal.write(
                    conn, "deal", text, client_id=before["client_id"], deal_id=deal_id, employee_id=by
                )
        return await self.get(deal_id)

    async def list(
        self, client_id: int | None, status: str | None, *, limit: int, offset: int, owner: int | None = None
    ) -> tuple[list[Row], int]:
        """A page of deals, newest first, and the total (`owner`: only that employee's)."""
        conds: list[str] = ["1 = 1"]
        params: list[Any] = []
        if owner is not None:  # the deals an employee is responsible for or takes part in
            sql, values = visible_to(owner)
            conds.append(sql)
            params += values
        if client_id is not None:
            conds.append("client_id = ?")
            params.append(client_id)
        if status:
            conds.append("status = ?")
            params.append(status)
        where = " AND ".join(conds)
        total = await self.db.scalar(f"SELECT COUNT(*) FROM deals d WHERE {_qualified(where)}", params)
        rows = await self.db.fetch_all(
            f"{_DEAL_SELECT} WHERE {_qualified(where)}"
            " ORDER BY d.created_at DESC, d.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, int(total or 0)


def _qualified(where: str) -> str:
    """The deals conditions with the table alias the joined select needs (qualified names kept)."""
    return re.sub(r"(?<![.\w])(client_id|status|responsible_id)\b", r"d.\1", where)


_DEAL_SELECT = (
    "SELECT d.*, c.name AS client_name, e.name AS responsible_name FROM deals d"
    " LEFT JOIN clients c ON c.id = d.client_id LEFT JOIN employees e ON e.id = d.responsible_id"
)


def _deal_changes(before: Row, fields: dict[str, Any]) -> list[str]:
    """What a change to a deal reads like in its history."""
    title = before["title"]
    texts = []
    if "pipeline_id" in fields:
        moved = f"{before['old_pipeline']} → {before['new_pipeline']}"
        texts.append(f"Сделка «{title}» перенесена: {moved}, этап {fields['stage']}")
    elif "stage" in fields and fields["stage"] != before["stage"]:
        texts.append(f"Сделка «{title}»: {before['stage']} → {fields['stage']}")
    if "status" in fields and fields["status"] != before["status"]:
        reason = f". Причина: {fields['reason']}" if fields.get("reason") else ""
        texts.append(f"Сделку «{title}» {STATUS_WORDS[fields['status']]}{reason}")
    for key in ("title", "value", "responsible_id"):
        if key in fields and fields[key] != before[key]:
            old, new = journal.describe(before[key]), journal.describe(fields[key])
            if key == "responsible_id":
                old, new = before["responsible_name"] or "—", before.get("new_responsible_name") or "—"
            texts.append(f"Сделка «{title}», {journal.FIELD_NAMES[key].lower()}: {old} → {new}")
    return texts


async def _one(db: Database, sql: str, key: Any, kind: str) -> Row:
    row = await db.fetch_one(sql, (key,))
    if row is None:
        raise NotFoundError(kind, key)
    return row


# One SELECT per kind, each naming the same columns (any may come first), so the feed is one UNION.
_FEED_PARTS = {
    "call": "SELECT 'call' AS kind, c.id AS ref, c.started_at AS at,"
    " c.direction || ' ' || c.disposition || ' ' || c.phone AS text, c.employee AS who,"
    # a recording is only flagged here: the file is reached through a signed link on the call
    " CASE WHEN c.recording IS NULL THEN NULL ELSE 'recording' END AS extra"
    " FROM calls c WHERE c.client_id = :client {calls_scope}",
    "comment": "SELECT 'comment' AS kind, CAST(m.id AS TEXT) AS ref, m.created_at AS at, m.text AS text,"
    " e.name AS who, m.call_id AS extra"
    " FROM comments m LEFT JOIN employees e ON e.id = m.author_id WHERE m.client_id = :client",
    "task": "SELECT 'task' AS kind, CAST(t.id AS TEXT) AS ref, t.created_at AS at, t.title AS text,"
    " e.name AS who, COALESCE(t.deadline, '') || CASE t.done WHEN 1 THEN ' done' ELSE '' END AS extra"
    " FROM tasks t LEFT JOIN employees e ON e.id = t.assignee_id WHERE t.client_id = :client",
    "reminder": "SELECT 'reminder' AS kind, CAST(r.id AS TEXT) AS ref, r.created_at AS at, r.text AS text,"
    " e.name AS who, r.remind_at AS extra"
    " FROM reminders r LEFT JOIN employees e ON e.id = r.employee_id WHERE r.client_id = :client",
    "deal": "SELECT 'deal' AS kind, CAST(d.id AS TEXT) AS ref, d.created_at AS at, d.title AS text,"
    " d.status AS who, d.stage || ' ' || d.value || ' ' || d.currency AS extra"
    " FROM deals d WHERE d.client_id = :client",
    "change": "SELECT 'change' AS kind, CAST(j.id AS TEXT) AS ref, j.at AS at, j.text AS text,"
    " e.name AS who, j.kind AS extra"
    " FROM journal j LEFT JOIN employees e ON e.id = j.employee_id WHERE j.client_id = :client",
    # an SMS: its text, who sent it, and where it is now ("status detail") for the feed to show
    "sms": "SELECT 'sms' AS kind, CAST(s.id AS TEXT) AS ref, s.created_at AS at, s.text AS text,"
    " e.name AS who, s.status || ' ' || s.phone || ' ' || s.detail AS extra"
    " FROM sms_messages s LEFT JOIN employees e ON e.id = s.author_id WHERE s.client_id = :client",
    # a letter: its subject; who wrote it (the sender's name or address, or the employee); direction and state
    "mail": "SELECT 'mail' AS kind, CAST(l.id AS TEXT) AS ref, l.sent_at AS at, l.subject AS text,"
    " COALESCE(e.name, NULLIF(l.from_name, ''), l.from_addr) AS who, l.direction || ' ' || l.status AS extra"
    " FROM mail_messages l LEFT JOIN employees e ON e.id = l.employee_id WHERE l.client_id = :client",
}


async def feed(
    db: Database,
    client_id: int,
    *,
    kinds: Sequence[str] = FEED_KINDS,
    q: str = "",
    extensions: tuple[str, ...] | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """Everything that happened with a client, newest first; filter by kind and text search.

    `extensions` limits the calls to the viewer's own (employees see only their calls).
    """
    params: dict[str, Any] = {"client": client_id, "q": f"%{q}%", "limit": limit, "offset": offset}
    scope = ""
    if extensions is not None:
        names = [f":x{i}" for i in range(len(extensions))]
        params.update({f"x{i}": ext for i, ext in enumerate(extensions)})
        scope = (
            "AND EXISTS (SELECT 1 FROM call_extensions x WHERE x.call_id = c.id"
            f" AND x.extension IN ({', '.join(names) or 'NULL'}))"
        )
    parts = [_FEED_PARTS[k].format(calls_scope=scope) for k in FEED_KINDS if k in kinds]
    union = " UNION ALL ".join(parts)
    search = "WHERE text LIKE :q OR COALESCE(who, '') LIKE :q OR COALESCE(extra, '') LIKE :q" if q else ""
    total = await db.scalar(f"SELECT COUNT(*) FROM ({union}) AS feed {search}", params)
    rows = await db.fetch_all(
        f"SELECT * FROM ({union}) AS feed {search}"
        " ORDER BY at DESC, kind, ref DESC LIMIT :limit OFFSET :offset",
        params,
    )
    return rows, int(total or 0)

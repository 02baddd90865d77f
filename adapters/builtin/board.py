"""The deals board, the deal card, the company's live feed, alerts due, and company settings.

The board reads one pipeline's open deals per stage: the totals (count and sum) come from one
GROUP BY over the `deals_board` index, and each column shows only its newest cards (bounded),
so a board of 100k deals renders as fast as a board of 100.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.builtin import journal
from adapters.builtin.activity import Deals
from adapters.builtin.db import Database, Row, iso, now_iso
from adapters.builtin.deal_people import visible_to

CARDS_PER_STAGE = 50
ALERT_AHEAD = timedelta(hours=12)  # upcoming alerts the browser schedules itself
ACTIVITY_KINDS = ("call", "deal", "task", "comment", "change")
SETTINGS_DEFAULTS: dict[str, Any] = {"timezone": "", "missed_call_task": True}
# The clients list's columns (seed 003: at most six): the card's own and custom fields (`f<id>`).
CLIENT_COLUMNS = ("phones", "company", "responsible", "email", "updated_at", "created_at")
DEFAULT_CLIENT_COLUMNS = ["phones", "company", "responsible", "updated_at"]
MAX_CLIENT_COLUMNS = 6
# What came of a call, chosen by the employee after it (an admin edits the list in the settings).
DEFAULT_CALL_OUTCOMES = [
    "Договорились о встрече",
    "Нужно перезвонить",
    "Отправить КП",
    "Не заинтересован",
    "Ошиблись номером",
]
MAX_OUTCOME = 60  # characters of one outcome


async def board(db: Database, deals: Deals, pipeline_id: int, responsible_id: int | None) -> Row:
    """Stages of a pipeline with their open deals' count, sum and newest cards."""
    pipeline = await deals.pipeline(pipeline_id)
    mine, params = "", list[int]()
    if responsible_id is not None:  # an employee's deals: responsible for or taking part in
        sql, params = visible_to(responsible_id)
        mine = f"AND {sql}"
    totals = {
        r["stage"]: r
        for r in await db.fetch_all(
            "SELECT d.stage, COUNT(*) AS count, COALESCE(SUM(d.value), 0) AS value FROM deals d"
            f" WHERE d.pipeline_id = ? AND d.status = 'open' {mine} GROUP BY d.stage",
            [pipeline_id, *params],
        )
    }
    stages = []
    for stage in pipeline["stages"]:
        cards = await db.fetch_all(
            "SELECT d.id, d.title, d.value, d.currency, d.stage, d.created_at, d.stage_since, d.client_id,"
            " c.name AS client_name, e.name AS responsible_name, d.responsible_id FROM deals d"
            " LEFT JOIN clients c ON c.id = d.client_id LEFT JOIN employees e ON e.id = d.responsible_id"
            f" WHERE d.pipeline_id = ? AND d.status = 'open' AND d.stage = ? {mine}"
            " ORDER BY d.created_at DESC LIMIT ?",
            [pipeline_id, stage, *params, CARDS_PER_STAGE],
        )
        total = totals.get(stage, {"count": 0, "value": 0})
        stages.append({"name": stage, "count": total["count"], "value": total["value"], "deals": cards})
    return {"pipeline": pipeline, "stages": stages}


async def deal_card(db: Database, deals: Deals, deal_id: int) -> Row:
    """A deal with its history (who moved it when), its tasks, its client's numbers and the client's
    calls since it opened."""
    deal = await deals.get(deal_id)
    deal["history"] = [
        {"at": deal["created_at"], "who": "", "text": f"Сделка создана: {journal.describe(deal['value'])}"},
        *await journal.for_deal(db, deal_id),
    ]
    deal["tasks"] = await db.fetch_all(
        "SELECT * FROM tasks WHERE deal_id = ? ORDER BY done, deadline IS NULL, deadline", (deal_id,)
    )
    deal["client_phones"] = [
        r["phone"]
        for r in await db.fetch_all(
            "SELECT phone FROM phones WHERE client_id = ? ORDER BY phone", (deal["client_id"],)
        )
    ]
    deal["calls"] = (
        await db.fetch_all(
            "SELECT id, direction, disposition, started_at, talk_seconds, employee, phone FROM calls"
            " WHERE client_id = ? AND started_at >= ? AND (? IS NULL OR started_at <= ?)"
            " ORDER BY started_at DESC LIMIT 50",
            (deal["client_id"], deal["created_at"], deal["closed_at"], deal["closed_at"]),
        )
        if deal["client_id"]
        else []
    )
    return deal


async def alerts(db: Database, employee_id: int, now: datetime | None = None) -> Row:
    """The employee's reminders and tasks that are due, those due within `ALERT_AHEAD`, comments that
    mention them not yet seen, and a count."""
    moment = now or datetime.now(UTC)
    ahead = iso(moment + ALERT_AHEAD)
    rows = await db.fetch_all(
        "SELECT 'reminder' AS kind, r.id, r.remind_at AS at, r.text, r.client_id, c.name AS client_name,"
        " NULL AS who FROM reminders r LEFT JOIN clients c ON c.id = r.client_id"
        " WHERE r.employee_id = :me AND r.done = 0 AND r.remind_at <= :ahead"
        " UNION ALL SELECT 'task' AS kind, t.id, t.deadline AS at, t.title AS text, t.client_id,"
        " c.name AS client_name, NULL AS who FROM tasks t LEFT JOIN clients c ON c.id = t.client_id"
        " WHERE t.assignee_id = :me AND t.done = 0 AND t.deadline IS NOT NULL AND t.deadline <= :ahead"
        # a comment that @mentions me is due from when it was written until I mark it seen
        " UNION ALL SELECT 'mention' AS kind, m.id, m.created_at AS at, m.text, m.client_id,"
        " c.name AS client_name, e.name AS who FROM comment_mentions n JOIN comments m ON m.id = n.comment_id"
        " LEFT JOIN clients c ON c.id = m.client_id LEFT JOIN employees e ON e.id = m.author_id"
        " WHERE n.employee_id = :me AND n.seen = 0"
        " ORDER BY at LIMIT 200",
        {"me": employee_id, "ahead": ahead},
    )
    stamp = iso(moment)
    due = [r for r in rows if r["at"] <= stamp]
    return {"due": due, "upcoming": [r for r in rows if r["at"] > stamp], "count": len(due), "now": stamp}


# The live feed's rows of each source, all with the same columns; `ref` names the row (the page drops
# a pushed item it already shows).
ACTIVITY_SQL = {
    "call": "SELECT 'call' AS kind, k.started_at AS at, k.direction || ' ' || k.disposition AS text,"
    " k.employee AS who, k.client_id, c.name AS client_name, k.phone, 'call:' || k.id AS ref FROM calls k"
    " LEFT JOIN clients c ON c.id = k.client_id WHERE k.direction <> 'internal' {scope}",
    "comment": "SELECT 'comment' AS kind, m.created_at AS at, m.text, e.name AS who, m.client_id,"
    " c.name AS client_name, NULL AS phone, 'comment:' || m.id AS ref FROM comments m"
    " LEFT JOIN employees e ON e.id = m.author_id LEFT JOIN clients c ON c.id = m.client_id WHERE 1 = 1",
    "journal": "SELECT j.kind AS kind, j.at, j.text, e.name AS who, j.client_id, c.name AS client_name,"
    " NULL AS phone, 'journal:' || j.id AS ref FROM journal j LEFT JOIN employees e ON e.id = j.employee_id"
    " LEFT JOIN clients c ON c.id = j.client_id WHERE j.kind IN ({kinds})",
    "new_deal": "SELECT 'deal' AS kind, d.created_at AS at, 'Новая сделка «' || d.title || '»' AS text,"
    " e.name AS who, d.client_id, c.name AS client_name, NULL AS phone, 'deal:' || d.id AS ref FROM deals d"
    " LEFT JOIN employees e ON e.id = d.responsible_id LEFT JOIN clients c ON c.id = d.client_id WHERE 1 = 1",
}


async def activity(
    db: Database, kinds: tuple[str, ...], extensions: tuple[str, ...] | None, *, limit: int
) -> list[Row]:
    """What happened in the company lately, newest first; employees see only their own calls."""
    params: dict[str, Any] = {"limit": limit, "since": iso(datetime.now(UTC) - timedelta(days=30))}
    parts = []
    if "call" in kinds:
        scope = ""
        if extensions is not None:
            names = [f":x{i}" for i in range(len(extensions))]
            params.update({f"x{i}": ext for i, ext in enumerate(extensions)})
            scope = (
                "AND EXISTS (SELECT 1 FROM call_extensions x WHERE x.call_id = k.id"
                f" AND x.extension IN ({', '.join(names) or 'NULL'}))"
            )
        parts.append(ACTIVITY_SQL["call"].format(scope=scope) + " AND k.started_at >= :since")
    if "comment" in kinds:
        parts.append(ACTIVITY_SQL["comment"] + " AND m.created_at >= :since")
    logged = [k for k in ("deal", "change", "task") if k in kinds]
    if logged:
        quoted = ", ".join(f"'{k}'" for k in logged)
        parts.append(ACTIVITY_SQL["journal"].format(kinds=quoted) + " AND j.at >= :since")
    if "deal" in kinds:
        parts.append(ACTIVITY_SQL["new_deal"] + " AND d.created_at >= :since")
    if not parts:
        return []
    union = " UNION ALL ".join(parts)
    return await db.fetch_all(f"SELECT * FROM ({union}) AS feed ORDER BY at DESC LIMIT :limit", params)


async def get_settings(db: Database) -> dict[str, Any]:
    """The company's settings, defaults filled in."""
    rows = await db.fetch_all("SELECT key, value FROM settings")
    stored = {r["key"]: r["value"] for r in rows}
    columns = json.loads(stored["client_columns"]) if "client_columns" in stored else DEFAULT_CLIENT_COLUMNS
    outcomes = json.loads(stored["call_outcomes"]) if "call_outcomes" in stored else DEFAULT_CALL_OUTCOMES
    return {
        "timezone": stored.get("timezone", SETTINGS_DEFAULTS["timezone"]),
        "missed_call_task": stored.get("missed_call_task", "1") == "1",
        "client_columns": columns,
        "call_outcomes": outcomes,
    }


def check_outcomes(names: list[str]) -> list[str]:
    """The call outcomes' list if every name fits (ValueError otherwise); repeats dropped."""
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    long = [n for n in names if len(n) > MAX_OUTCOME]
    if long:
        raise ValueError(f"«{long[0][:20]}…» is longer than {MAX_OUTCOME} characters")
    return names


def check_columns(keys: list[str]) -> list[str]:
    """The clients list's columns if they are known ones, at most six (ValueError otherwise)."""
    keys = list(dict.fromkeys(keys))
    if len(keys) > MAX_CLIENT_COLUMNS:
        raise ValueError(f"at most {MAX_CLIENT_COLUMNS} columns")
    wrong = [k for k in keys if k not in CLIENT_COLUMNS and not (k[:1] == "f" and k[1:].isdigit())]
    if wrong:
        raise ValueError(f"unknown column {wrong[0]}")
    return keys


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone this machine knows ("" means the server's); ValueError otherwise."""
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name}") from exc
    return name


async def set_settings(db: Database, changes: dict[str, Any]) -> dict[str, Any]:
    """Store changed settings (already checked)."""
    values = []
    if "timezone" in changes:
        values.append(("timezone", check_timezone(str(changes["timezone"]))))
    if "missed_call_task" in changes:
        values.append(("missed_call_task", "1" if changes["missed_call_task"] else "0"))
    if "client_columns" in changes:
        values.append(("client_columns", json.dumps(check_columns(changes["client_columns"]))))
    if "call_outcomes" in changes:
        values.append(
            ("call_outcomes", json.dumps(check_outcomes(changes["call_outcomes"]), ensure_ascii=False))
        )
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            values,
        )
    return await get_settings(db)


def spoken(phone: str) -> str:
    """+79161234567 as people write it: +7 916 123-45-67 (other numbers unchanged)."""
    if len(phone) == 12 and phone.startswith("+7") and phone[1:].isdigit():
        return f"+7 {phone[2:5]} {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    return phone


async def missed_call_task(db: Database, call: Row) -> Row | None:
    """A call-back task for a missed inbound call, for the client's responsible manager (else who rang).

    Nothing when the setting is off, the number is spam, or the caller already has an open call-back task.
    """
    if call["direction"] != "inbound" or call["disposition"] == "answered" or call["client_id"] is None:
        return None
    if call.get("spam") or not (await get_settings(db))["missed_call_task"]:
        return None
    assignee = await db.scalar(
        "SELECT COALESCE(c.responsible_id, (SELECT e.id FROM employees e WHERE e.extension = ?))"
        " FROM clients c WHERE c.id = ?",
        (call["employee"], call["client_id"]),
    )
    title = f"Перезвонить: {spoken(call['phone'])}"
    async with db.transaction() as conn:
        async with conn.execute(
            "SELECT id FROM tasks WHERE client_id = ? AND title = ? AND done = 0", (call["client_id"], title)
        ) as cur:
            if await cur.fetchone() is not None:
                return None
        cursor = await conn.execute(
            "INSERT INTO tasks (client_id, call_id, title, assignee_id, deadline, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (call["client_id"], call["id"], title, assignee, now_iso(), now_iso()),
        )
        task_id = int(cursor.lastrowid or 0)
    return await db.fetch_one("SELECT * FROM tasks WHERE id = ?", (task_id,))

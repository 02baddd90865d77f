"""The journal: who moved a deal, closed it, edited a card or finished a task, and when.

The client's feed shows a client's entries as kind "change" (deal moves as "deal" history);
the company's live feed shows them all. Entries are written in the same transaction as the
change they describe, so the record and the journal never disagree.
"""

from __future__ import annotations

from typing import Any

from adapters.builtin.db import Database, Row, now_iso

KINDS = ("deal", "change", "task")
FIELD_NAMES = {
    "name": "Имя",
    "email": "E-mail",
    "emails": "E-mail",
    "notes": "Заметки",
    "company_id": "Компания",
    "responsible_id": "Ответственный",
    "title": "Название",
    "value": "Сумма",
    "stage": "Этап",
    "phones": "Телефоны",
}


async def write(
    conn: Any,
    kind: str,
    text: str,
    *,
    client_id: int | None = None,
    deal_id: int | None = None,
    employee_id: int | None = None,
) -> None:
    """Add one entry through an open transaction's connection."""
    await conn.execute(
        "INSERT INTO journal (at, kind, client_id, deal_id, employee_id, text) VALUES (?, ?, ?, ?, ?, ?)",
        (now_iso(), kind, client_id, deal_id, employee_id, text),
    )


async def for_deal(db: Database, deal_id: int) -> list[Row]:
    """A deal's history, oldest first, with the employee's name."""
    return await db.fetch_all(
        "SELECT j.at, j.kind, j.text, e.name AS who FROM journal j"
        " LEFT JOIN employees e ON e.id = j.employee_id WHERE j.deal_id = ? ORDER BY j.at, j.id",
        (deal_id,),
    )


def describe(value: Any) -> str:
    """A value as the journal quotes it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}".replace(",", " ")
    return str(value)

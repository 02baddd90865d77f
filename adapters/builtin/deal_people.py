"""Who works on a deal and who hears about it (manual, seed 003: «добавить участников», «Как покинуть
сделку», «Как отключить уведомления»).

The responsible is the deal's leader («с короной»); participants are the other employees added to it.
Both see and change the deal where an employee otherwise sees only their own (`visible_to`). Everyone
of them hears what happens to it (moves, closes, edits, people) unless they muted it; whoever made
the change is not told of it. Adding, removing and leaving are written to the deal's history.
"""

from __future__ import annotations

from adapters.builtin import journal
from adapters.builtin.db import ConflictError, Database, NotFoundError, Row, now_iso

# An employee's deals: responsible for, or taking part in (for lists and the board; `?` = the employee).
VISIBLE_SQL = (
    "(d.responsible_id = ? OR d.id IN (SELECT p.deal_id FROM deal_participants p WHERE p.employee_id = ?))"
)


def visible_to(employee_id: int) -> tuple[str, list[int]]:
    """The condition (on deals `d`) and its parameters for the deals an employee works on."""
    return VISIBLE_SQL, [employee_id, employee_id]


class DealPeople:
    """Participants of deals and their notification settings."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, deal_id: int, responsible_id: int | None) -> list[Row]:
        """The deal's people: the responsible first (leader), then participants by when they joined."""
        rows = await self.db.fetch_all(
            "SELECT e.id AS employee_id, e.name, e.extension, COALESCE(p.muted, 0) AS muted,"
            " CASE WHEN e.id = ? THEN 1 ELSE 0 END AS leader FROM employees e"
            " LEFT JOIN deal_participants p ON p.employee_id = e.id AND p.deal_id = ?"
            " WHERE e.id = ? OR p.deal_id IS NOT NULL ORDER BY leader DESC, p.added_at, e.name",
            (responsible_id, deal_id, responsible_id),
        )
        return [{**r, "muted": bool(r["muted"]), "leader": bool(r["leader"])} for r in rows]

    async def add(self, deal: Row, employee_id: int, by: int | None) -> None:
        """Add an employee to the deal (NotFoundError for no such active employee)."""
        name = await self.db.scalar("SELECT name FROM employees WHERE id = ? AND active = 1", (employee_id,))
        if name is None:
            raise NotFoundError("employee", employee_id)
        if employee_id == deal["responsible_id"] or await self._is_participant(deal["id"], employee_id):
            raise ConflictError(f"{name} already works on this deal")
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO deal_participants (deal_id, employee_id, muted, added_at) VALUES (?, ?, 0, ?)"
                " ON CONFLICT (deal_id, employee_id) DO NOTHING",
                (deal["id"], employee_id, now_iso()),
            )
            await journal.write(
                conn, "deal", f"Сделка «{deal['title']}»: участник {name}", client_id=deal["client_id"],
                deal_id=deal["id"], employee_id=by,
            )  # fmt: skip

    async def remove(self, deal: Row, employee_id: int, by: int | None) -> None:
        """Take a participant off the deal, or let them leave it (`by` is themselves)."""
        name = await self.db.scalar("SELECT name FROM employees WHERE id = ?", (employee_id,))
        if not await self._is_participant(deal["id"], employee_id) or employee_id == deal["responsible_id"]:
            raise NotFoundError("participant", employee_id)
        text = f"{name} покидает сделку" if by == employee_id else f"{name} больше не участвует"
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM deal_participants WHERE deal_id = ? AND employee_id = ?",
                (deal["id"], employee_id),
            )
            await journal.write(
                conn, "deal", f"Сделка «{deal['title']}»: {text}", client_id=deal["client_id"],
                deal_id=deal["id"], employee_id=by,
            )  # fmt: skip

    async def set_muted(self, deal: Row, employee_id: int, muted: bool) -> None:
        """Turn an employee's notifications about the deal off or on."""
        await self.db.write(
            "INSERT INTO deal_participants (deal_id, employee_id, muted, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (deal_id, employee_id) DO UPDATE SET muted = excluded.muted",
            (deal["id"], employee_id, int(muted), now_iso()),
        )

    async def audience(self, deal_id: int, actor: int | None) -> list[int]:
        """Who is told of a change to the deal: its people who did not mute it, but not `actor`."""
        rows = await self.db.fetch_all(
            "SELECT d.responsible_id AS id FROM deals d WHERE d.id = ? AND d.responsible_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM deal_participants p WHERE p.deal_id = d.id"
            " AND p.employee_id = d.responsible_id AND p.muted = 1)"
            " UNION SELECT p.employee_id AS id FROM deal_participants p WHERE p.deal_id = ? AND p.muted = 0",
            (deal_id, deal_id),
        )
        return sorted({int(r["id"]) for r in rows} - {actor})

    async def _is_participant(self, deal_id: int, employee_id: int) -> bool:
        found = await self.db.scalar(
            "SELECT 1 FROM deal_participants WHERE deal_id = ? AND employee_id = ?", (deal_id, employee_id)
        )
        return found is not None

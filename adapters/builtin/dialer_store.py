"""Auto-dial lists in the CRM database: lists, their numbers, and every call placed for them.

Every change of a number's status is an ``UPDATE ... WHERE status = <old>`` so two workers (or a
worker and a person pressing «Пропустить») never both win. A number is claimed (→ ``dialing``,
with the call id its originate will use) and committed before the PBX is asked: a daemon
killed between the two leaves a ``dialing`` row whose call id the worker later looks up in the
call records, and the number is never dialled twice by accident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from weakref import WeakSet

from adapters.builtin.db import ConflictError, Database, NotFoundError, Row, iso, now_iso
from adapters.builtin.dialer_plan import MAX_ENTRIES, Outcome

_READY: WeakSet[Database] = WeakSet()
LIST_STATES = ("created", "running", "paused", "done", "archived")
ENTRY_STATUSES = ("pending", "dialing", "answered", "no_answer", "busy", "failed", "skipped")
# A number waiting to be dialled: never dialled, or not answered with a retry due.
_WAITING = "(e.status = 'pending' OR (e.status = 'no_answer' AND e.retry_at IS NOT NULL))"


async def ensure_schema(db: Database) -> None:
    """Create the dialer's tables (once per database object)."""
    if db in _READY:
        return
    script = resources.files("adapters.builtin").joinpath("schema_dialer.sql").read_text("utf-8")
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    async with db.transaction() as conn:
        for statement in "\n".join(lines).split(";"):
            if statement.strip():
                await conn.execute(statement)
    _READY.add(db)


def _precise(moment: datetime) -> str:
    """`moment` to the microsecond: the wrap-up pause is seconds long, the store's `iso` keeps seconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DialerStore:
    """Lists, numbers and attempts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- lists --------------------------------------------------------------------------------

    async def create(self, fields: dict[str, Any], numbers: Sequence[tuple[str, int | None]]) -> Row:
        """A new list with `numbers` ((phone, client id), normalised, in order, no repeats)."""
        if len(numbers) > MAX_ENTRIES:
            raise ConflictError(f"в обзвоне не больше {MAX_ENTRIES} номеров")
        stamp = now_iso()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO dial_lists (name, employee_id, author_id, pause_seconds, retry_minutes,"
                " max_attempts, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fields["name"], fields.get("employee_id"), fields.get("author_id"),
                    fields.get("pause_seconds"), fields["retry_minutes"], fields["max_attempts"],
                    json.dumps(fields.get("source", {}), ensure_ascii=False), stamp, stamp,
                ),
            )  # fmt: skip
            list_id = int(cursor.lastrowid or 0)
            await conn.executemany(
                "INSERT INTO dial_entries (list_id, position, phone, client_id, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (list_id, phone) DO NOTHING",
                [(list_id, n, phone, client, stamp) for n, (phone, client) in enumerate(numbers, 1)],
            )
        return await self.get(list_id)

    async def get(self, list_id: int) -> Row:
        """One list with its counts by status (404 when missing)."""
        row = await self.db.fetch_one(
            "SELECT l.*, e.name AS employee_name, e.extension AS extension, a.name AS author_name"
            " FROM dial_lists l LEFT JOIN employees e ON e.id = l.employee_id"
            " LEFT JOIN employees a ON a.id = l.author_id WHERE l.id = ?",
            (list_id,),
        )
        if row is None:
            raise NotFoundError("dial list", list_id)
        return await self._with_counts(row)

    async def _with_counts(self, row: Row) -> Row:
        counts = await self.db.fetch_all(
            "SELECT status, COUNT(*) AS n FROM dial_entries WHERE list_id = ? GROUP BY status", (row["id"],)
        )
        by = {c["status"]: int(c["n"]) for c in counts}
        retries = await self.db.scalar(
            "SELECT COUNT(*) FROM dial_entries e WHERE e.list_id = ? AND e.status = 'no_answer'"
            " AND e.retry_at IS NOT NULL",
            (row["id"],),
        )
        return {
            **row,
            "source": json.loads(row["source"] or "{}"),
            "hold": bool(row["hold"]),
            "counts": {s: by.get(s, 0) for s in ENTRY_STATUSES},
            "total": sum(by.values()),
            "retries": int(retries or 0),
        }

    async def lists(self, state: str | None, limit: int, offset: int) -> tuple[list[Row], int]:
        """Lists newest first (archived ones only when asked for)."""
        where, params = ("l.state = ?", [state]) if state else ("l.state <> 'archived'", [])
        total = await self.db.scalar(f"SELECT COUNT(*) FROM dial_lists l WHERE {where}", params)
        rows = await self.db.fetch_all(
            f"SELECT l.id FROM dial_lists l WHERE {where} ORDER BY l.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [await self.get(r["id"]) for r in rows], int(total or 0)

    async def entries(self, list_id: int, limit: int, offset: int) -> tuple[list[Row], int]:
        """A list's numbers in order, with the client's name."""
        total = await self.db.scalar("SELECT COUNT(*) FROM dial_entries WHERE list_id = ?", (list_id,))
        rows = await self.db.fetch_all(
            "SELECT e.*, c.name AS client_name FROM dial_entries e LEFT JOIN clients c ON c.id = e.client_id"
            " WHERE e.list_id = ? ORDER BY e.position LIMIT ? OFFSET ?",
            (list_id, limit, offset),
        )
        return rows, int(total or 0)

    async def update(self, list_id: int, changes: dict[str, Any], *, when: Sequence[str] = ()) -> Row:
        """Set `changes` on the list, only while its state is one of `when` (409 otherwise)."""
        sets = ", ".join(f"{key} = ?" for key in changes)
        params: list[Any] = [*changes.values(), now_iso(), list_id]
        condition = ""
        if when:
            condition = f" AND state IN ({', '.join('?' for _ in when)})"
            params.extend(when)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE dial_lists SET {sets}, updated_at = ? WHERE id = ?{condition}", params
            )
            changed = cursor.rowcount == 1
        row = await self.get(list_id)
        if not changed:
            raise ConflictError(f"обзвон сейчас в состоянии «{row['state']}»")
        return row

    async def running(self) -> list[Row]:
        """The lists the worker drives."""
        return await self.db.fetch_all("SELECT * FROM dial_lists WHERE state = 'running' ORDER BY id")

    # --- numbers ------------------------------------------------------------------------------

    async def in_flight(self, list_id: int) -> Row | None:
        """The number being dialled, if any."""
        return await self.db.fetch_one(
            "SELECT * FROM dial_entries WHERE list_id = ? AND status = 'dialing' ORDER BY id LIMIT 1",
            (list_id,),
        )

    async def next_waiting(self, list_id: int, now: str) -> Row | None:
        """The number to dial next: the earliest due (never-dialled first, by position)."""
        return await self.db.fetch_one(
            "SELECT e.* FROM dial_entries e WHERE e.list_id = ? AND"
            f" {_WAITING} ORDER BY CASE WHEN e.retry_at IS NULL OR e.retry_at <= ? THEN 0 ELSE 1 END,"
            " e.retry_at IS NOT NULL, e.retry_at, e.position LIMIT 1",
            (list_id, now),
        )

    async def claim(self, entry_id: int, list_id: int, call_id: str, now: str) -> bool:
        """waiting → dialing under `call_id`, committed before the PBX is asked; False if taken.

        Only while the list runs and has no other number in flight.
        """
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE dial_entries SET status = 'dialing', attempts = attempts + 1, call_id = ?,"
                " dialled_at = ?, retry_at = NULL, detail = '', updated_at = ? WHERE id = ? AND"
                " (status = 'pending' OR (status = 'no_answer' AND retry_at IS NOT NULL AND retry_at <= ?))"
                " AND EXISTS (SELECT 1 FROM dial_lists l WHERE l.id = ? AND l.state = 'running')"
                " AND NOT EXISTS (SELECT 1 FROM dial_entries o WHERE o.list_id = ? AND o.status = 'dialing')",
                (call_id, now, now, entry_id, now, list_id, list_id),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "INSERT INTO dial_attempts (call_id, entry_id, started_at) VALUES (?, ?, ?)",
                (call_id, entry_id, now),
            )
            return True

    async def unclaim(self, entry_id: int, call_id: str, detail: str, retry_at: str) -> None:
        """The PBX refused before anything rang (rate limit, PBX away): the number waits again."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE dial_entries SET status = CASE WHEN attempts > 1 THEN 'no_answer' ELSE 'pending' END,"
                " attempts = attempts - 1, retry_at = ?, detail = ?, updated_at = ?"
                " WHERE id = ? AND status = 'dialing' AND call_id = ?",
                (retry_at, detail, now_iso(), entry_id, call_id),
            )
            await conn.execute("DELETE FROM dial_attempts WHERE call_id = ?", (call_id,))

    async def record(self, entry: Row, outcome: Outcome, ended: datetime, detail: str = "") -> None:
        """A finished call's result on its number and the list's pause, in one transaction."""
        stamp = now_iso()
        retry = iso(outcome.retry_at) if outcome.retry_at else None
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE dial_entries SET status = ?, retry_at = ?, ended_at = ?, detail = ?, updated_at = ?"
                " WHERE id = ? AND status = 'dialing' AND call_id = ?",
                (outcome.result.value, retry, iso(ended), detail, stamp, entry["id"], entry["call_id"]),
            )
            if cursor.rowcount != 1:
                return
            await conn.execute(
                "UPDATE dial_attempts SET result = ? WHERE call_id = ?",
                (outcome.result.value, entry["call_id"]),
            )
            streak = "streak + 1" if outcome.result.value == "no_answer" else "0"
            state = ", state = 'paused'" if outcome.pause_reason else ""
            await conn.execute(
                f"UPDATE dial_lists SET next_at = ?, hold = ?, streak = {streak}, reason = ?{state},"
                " updated_at = ? WHERE id = ?",
                (
                    _precise(outcome.next_at) if outcome.next_at else None, int(outcome.hold),
                    outcome.pause_reason, stamp, entry["list_id"],
                ),
            )  # fmt: skip

    async def refuse(self, entry_id: int, detail: str) -> None:
        """A waiting number that may not be dialled (toll-fraud patterns): failed, with why."""
        await self.db.write(
            f"UPDATE dial_entries SET status = 'failed', retry_at = NULL, detail = ?, updated_at = ?"
            f" WHERE id = ? AND {_WAITING.replace('e.', '')}",
            (detail, now_iso(), entry_id),
        )

    async def skip(self, list_id: int, entry_id: int) -> Row:
        """Take a waiting number out of the list (409 when it is being dialled or done)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE dial_entries SET status = 'skipped', retry_at = NULL, updated_at = ?"
                f" WHERE id = ? AND list_id = ? AND {_WAITING.replace('e.', '')}",
                (now_iso(), entry_id, list_id),
            )
            if cursor.rowcount != 1:
                raise ConflictError("этот номер уже набирается или обзвонен")
        row = await self.db.fetch_one("SELECT * FROM dial_entries WHERE id = ?", (entry_id,))
        assert row is not None
        return row

    async def call(self, call_id: str) -> Row | None:
        """The call record of `call_id`, once the call is filed (its end to the microsecond: the
        column keeps seconds, and the wrap-up pause counts from the real end)."""
        row = await self.db.fetch_one(
            "SELECT id, disposition, ended_at, record FROM calls WHERE id = ?", (call_id,)
        )
        if row is None:
            return None
        record = json.loads(row.pop("record") or "{}")
        return {**row, "ended_at": record.get("ended_at") or row["ended_at"]}

    async def finish(self, list_id: int) -> None:
        """running → done (when no number is left)."""
        stamp = now_iso()
        await self.db.write(
            "UPDATE dial_lists SET state = 'done', finished_at = ?, reason = '', updated_at = ?"
            " WHERE id = ? AND state = 'running'",
            (stamp, stamp, list_id),
        )

    async def note(self, list_id: int, reason: str) -> None:
        """Why a running list waits (shown on the page), written only when it changes."""
        await self.db.write(
            "UPDATE dial_lists SET reason = ? WHERE id = ? AND reason <> ?", (reason, list_id, reason)
        )

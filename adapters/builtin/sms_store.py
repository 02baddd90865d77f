"""SMS rows in the CRM database: the durable queue the sender works from, mailings, the opt-out list.

Every message is a row before anything is sent, and its status moves one way under a
condition on the old status (``UPDATE ... WHERE status = 'queued'``), so the sender can be
killed at any point: a row left in ``sending`` is settled on the next start by asking the
provider about its id (`SmsSender.recover`), and no row is ever handed to the provider twice
by accident. A mailing's recipients are one row each with ``UNIQUE (mailing_id, phone)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from weakref import WeakSet

from adapters.builtin.db import Database, NotFoundError, Row, iso, now_iso
from adapters.builtin.sms_provider import Accepted, Delivery, Report

_READY: WeakSet[Database] = WeakSet()
MAILING_STATES = ("active", "paused", "cancelled", "done")
PENDING = ("queued", "sending")


async def ensure_schema(db: Database) -> None:
    """Create the SMS tables and indexes (once per database object)."""
    if db in _READY:
        return
    script = resources.files("adapters.builtin").joinpath("schema_sms.sql").read_text("utf-8")
    async with db.transaction() as conn:
        for statement in _statements(script):
            await conn.execute(statement)
    _READY.add(db)


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def later(seconds: float, start: datetime | None = None) -> str:
    """The store's time `seconds` after `start` (now by default)."""
    return iso((start or datetime.now(UTC)) + timedelta(seconds=seconds))


class SmsStore:
    """Messages, mailings and the opt-out list."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- messages -------------------------------------------------------------------------

    async def enqueue(
        self,
        phone: str,
        text: str,
        sender: str,
        *,
        client_id: int | None,
        author_id: int | None,
        origin: str = "card",
        segments: int = 0,
    ) -> Row:
        """Queue one SMS to go out as soon as the pace allows."""
        stamp = now_iso()
        message_id = await self.db.write(
            "INSERT INTO sms_messages (client_id, phone, text, sender, origin, segments, author_id,"
            " due_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (client_id, phone, text, sender, origin, segments, author_id, stamp, stamp, stamp),
        )
        return await self.message(message_id)

    async def message(self, message_id: int) -> Row:
        """One message (404 when missing)."""
        row = await self.db.fetch_one("SELECT * FROM sms_messages WHERE id = ?", (message_id,))
        if row is None:
            raise NotFoundError("sms", message_id)
        return row

    async def next_due(self, now: str) -> Row | None:
        """The next queued message whose time has come (single messages before mailings)."""
        return await self.db.fetch_one(
            "SELECT m.* FROM sms_messages m LEFT JOIN sms_mailings g ON g.id = m.mailing_id"
            " WHERE m.status = 'queued' AND m.due_at <= ? AND (m.mailing_id IS NULL OR g.state = 'active')"
            " ORDER BY CASE WHEN m.mailing_id IS NULL THEN 0 ELSE 1 END, m.due_at, m.id LIMIT 1",
            (now,),
        )

    async def claim(self, message_id: int, check_after: float) -> bool:
        """queued → sending, committed before the request goes out; False if it was not queued.

        Also False when its mailing was paused or cancelled since `next_due` found it (the pace
        may have held it a moment in between).
        """
        stamp = now_iso()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE sms_messages SET status = 'sending', attempts = attempts + 1, sent_at = ?,"
                " check_at = ?, updated_at = ? WHERE id = ? AND status = 'queued' AND (mailing_id IS NULL"
                " OR EXISTS (SELECT 1 FROM sms_mailings g WHERE g.id = mailing_id AND g.state = 'active'))",
                (stamp, later(check_after), stamp, message_id),
            )
            return cursor.rowcount == 1

    async def accepted(self, message_id: int, answer: Accepted, check_after: float) -> None:
        """sending → sent: the provider took it; ask its status after `check_after` seconds."""
        stamp = now_iso()
        await self.db.write(
            "UPDATE sms_messages SET status = 'sent', detail = '', segments = ?, cost = ?, check_at = ?,"
            " updated_at = ? WHERE id = ? AND status = 'sending'",
            (answer.segments, answer.cost, later(check_after), stamp, message_id),
        )

    async def unsure(self, message_id: int, detail: str, check_after: float) -> None:
        """Stay in sending: the answer was lost; the status check settles it after `check_after` s."""
        await self._set(message_id, "sending", detail, check_at=later(check_after))

    async def requeue(self, message_id: int, detail: str, delay: float = 0.0) -> None:
        """Back to queued: the provider said it did not send it (or has never seen it)."""
        stamp = now_iso()
        await self.db.write(
            "UPDATE sms_messages SET status = 'queued', detail = ?, due_at = ?, check_at = NULL,"
            " updated_at = ? WHERE id = ? AND status IN ('queued', 'sending')",
            (detail, later(delay), stamp, message_id),
        )

    async def fail(self, message_id: int, detail: str, status: Delivery = Delivery.FAILED) -> None:
        """A final status with the reason (no more checks)."""
        await self._set(message_id, status.value, detail, check_at=None)

    async def _set(self, message_id: int, status: str, detail: str, *, check_at: str | None) -> None:
        await self.db.write(
            "UPDATE sms_messages SET status = ?, detail = ?, check_at = ?, updated_at = ? WHERE id = ?",
            (status, detail, check_at, now_iso(), message_id),
        )

    async def reported(self, message_id: int, report: Report, next_check: float | None) -> None:
        """Record a status answer; `next_check` seconds until the next question (None: no more)."""
        assert report.delivery is not None
        check_at = later(next_check) if next_check is not None and not report.delivery.final else None
        await self.db.write(
            "UPDATE sms_messages SET status = ?, detail = ?, check_at = ?, checks = checks + 1,"
            " updated_at = ? WHERE id = ? AND status IN ('sending', 'sent')",
            (report.delivery.value, report.text, check_at, now_iso(), message_id),
        )

    async def check_later(self, message_id: int, seconds: float) -> None:
        """Ask the status again after `seconds` (the provider did not answer this time)."""
        await self.db.write(
            "UPDATE sms_messages SET check_at = ?, checks = checks + 1, updated_at = ? WHERE id = ?",
            (later(seconds), now_iso(), message_id),
        )

    async def due_checks(self, now: str, limit: int) -> list[Row]:
        """Messages whose status should be asked now (sent ones, and sends whose answer was lost)."""
        return await self.db.fetch_all(
            "SELECT * FROM sms_messages WHERE status IN ('sending', 'sent') AND check_at IS NOT NULL"
            " AND check_at <= ? ORDER BY check_at LIMIT ?",
            (now, limit),
        )

    async def in_flight(self, limit: int) -> list[Row]:
        """Messages left in sending (by a sender that stopped mid-request)."""
        return await self.db.fetch_all(
            "SELECT * FROM sms_messages WHERE status = 'sending' ORDER BY id LIMIT ?", (limit,)
        )

    async def of_client(self, client_id: int, limit: int = 50) -> list[Row]:
        """A client's messages, newest first."""
        return await self.db.fetch_all(
            "SELECT * FROM sms_messages WHERE client_id = ? ORDER BY id DESC LIMIT ?", (client_id, limit)
        )

    # --- mailings -------------------------------------------------------------------------

    async def create_mailing(
        self,
        fields: dict[str, Any],
        recipients: Sequence[tuple[int, str]],
        texts: Sequence[tuple[str, int]] | None = None,
    ) -> Row:
        """The mailing and one queued row per (client, phone), in one transaction.

        `texts` (a personalised mailing) gives each recipient's own (text, segments), in order;
        without it every row carries the mailing's text and segments.
        """
        stamp = now_iso()
        own = texts if texts is not None else [(fields["text"], fields["segments"])] * len(recipients)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO sms_mailings (name, text, sender, scheduled_at, audience, recipients,"
                " segments, estimate, author_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fields["name"],
                    fields["text"],
                    fields["sender"],
                    fields["scheduled_at"],
                    json.dumps(fields["audience"], ensure_ascii=False),
                    len(recipients),
                    fields["segments"],
                    fields["estimate"],
                    fields["author_id"],
                    stamp,
                ),
            )
            mailing_id = int(cursor.lastrowid or 0)
            await conn.executemany(
                "INSERT INTO sms_messages (client_id, mailing_id, phone, text, sender, origin, segments,"
                " author_id, due_at, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'mailing', ?, ?, ?, ?, ?)"
                " ON CONFLICT (mailing_id, phone) DO NOTHING",
                [
                    (
                        client_id,
                        mailing_id,
                        phone,
                        text,
                        fields["sender"],
                        segments,
                        fields["author_id"],
                        fields["scheduled_at"],
                        stamp,
                        stamp,
                    )
                    for (client_id, phone), (text, segments) in zip(recipients, own, strict=True)
                ],
            )
        return await self.mailing(mailing_id)

    async def mailing(self, mailing_id: int) -> Row:
        """A mailing with its recipients counted by status."""
        row = await self.db.fetch_one("SELECT * FROM sms_mailings WHERE id = ?", (mailing_id,))
        if row is None:
            raise NotFoundError("mailing", mailing_id)
        counts = await self.db.fetch_all(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost FROM sms_messages"
            " WHERE mailing_id = ? GROUP BY status",
            (mailing_id,),
        )
        row["audience"] = json.loads(row["audience"])
        row["counts"] = {c["status"]: c["n"] for c in counts}
        row["spent"] = round(sum(c["cost"] for c in counts), 2)
        return row

    async def mailings(self, limit: int, offset: int) -> tuple[list[Row], int]:
        """Mailings, newest first, each with its counts."""
        ids = await self.db.fetch_all(
            "SELECT id FROM sms_mailings ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        total = await self.db.scalar("SELECT COUNT(*) FROM sms_mailings")
        return [await self.mailing(r["id"]) for r in ids], int(total or 0)

    async def recipients(
        self, mailing_id: int, status: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        """A mailing's messages with the client's name, optionally of one status."""
        where, params = "m.mailing_id = ?", list[Any]([mailing_id])
        if status:
            where += " AND m.status = ?"
            params.append(status)
        rows = await self.db.fetch_all(
            "SELECT m.id, m.client_id, c.name AS client_name, m.phone, m.status, m.detail, m.segments,"
            f" m.cost, m.sent_at, m.updated_at FROM sms_messages m LEFT JOIN clients c ON c.id = m.client_id"
            f" WHERE {where} ORDER BY m.id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        total = await self.db.scalar(f"SELECT COUNT(*) FROM sms_messages m WHERE {where}", params)
        return rows, int(total or 0)

    async def set_state(self, mailing_id: int, state: str, reason: str = "") -> Row:
        """Pause, resume or cancel; cancelling skips every message not yet handed over."""
        mailing = await self.mailing(mailing_id)
        stamp = now_iso()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE sms_mailings SET state = ?, reason = ? WHERE id = ?", (state, reason, mailing["id"])
            )
            if state == "cancelled":
                await conn.execute(
                    "UPDATE sms_messages SET status = 'skipped', detail = 'рассылка отменена', updated_at = ?"
                    " WHERE mailing_id = ? AND status = 'queued'",
                    (stamp, mailing_id),
                )
                await conn.execute(
                    "UPDATE sms_mailings SET finished_at = ? WHERE id = ?", (stamp, mailing_id)
                )
        return await self.mailing(mailing_id)

    async def pause_all(self, reason: str) -> int:
        """Pause every active mailing (the account is empty, say); how many were paused."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE sms_mailings SET state = 'paused', reason = ? WHERE state = 'active'", (reason,)
            )
            return cursor.rowcount

    async def finish_mailings(self) -> None:
        """Active mailings with nothing left to send become done."""
        await self.db.write(
            "UPDATE sms_mailings SET state = 'done', finished_at = ? WHERE state = 'active' AND NOT EXISTS"
            " (SELECT 1 FROM sms_messages m WHERE m.mailing_id = sms_mailings.id"
            " AND m.status IN ('queued', 'sending'))",
            (now_iso(),),
        )

    # --- opt-out --------------------------------------------------------------------------

    async def opt_out(self, phone: str, reason: str) -> Row:
        """Put a number on the opt-out list (idempotent)."""
        await self.db.write(
            "INSERT INTO sms_optout (phone, reason, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (phone) DO UPDATE SET reason = excluded.reason",
            (phone, reason, now_iso()),
        )
        row = await self.db.fetch_one("SELECT * FROM sms_optout WHERE phone = ?", (phone,))
        assert row is not None
        return row

    async def opt_in(self, phone: str) -> None:
        """Take a number off the list (404 when it is not there)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM sms_optout WHERE phone = ?", (phone,))
            if cursor.rowcount == 0:
                raise NotFoundError("opt-out", phone)

    async def opted_out(self, phone: str) -> bool:
        """Whether the number is on the list."""
        return await self.db.scalar("SELECT 1 FROM sms_optout WHERE phone = ?", (phone,)) is not None

    async def optouts(self, limit: int, offset: int) -> tuple[list[Row], int]:
        """The list, newest first."""
        rows = await self.db.fetch_all(
            "SELECT * FROM sms_optout ORDER BY created_at DESC, phone LIMIT ? OFFSET ?", (limit, offset)
        )
        return rows, int(await self.db.scalar("SELECT COUNT(*) FROM sms_optout") or 0)

    # --- missed-call SMS ------------------------------------------------------------------

    async def claim_missed(self, phone: str, day: str) -> bool:
        """Reserve today's missed-call SMS for `phone`; False when it already had one today."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO sms_missed (phone, day) VALUES (?, ?) ON CONFLICT (phone, day) DO NOTHING",
                (phone, day),
            )
            return cursor.rowcount == 1

    async def link_missed(self, phone: str, day: str, message_id: int) -> None:
        """Note which message the day's missed-call SMS was."""
        await self.db.write(
            "UPDATE sms_missed SET message_id = ? WHERE phone = ? AND day = ?", (message_id, phone, day)
        )

"""The mailbox's records: connected mailboxes, letters in and out, attachments, the outgoing queue.

Letters are matched to clients by address here, in one place: a received letter by its sender,
a written one by its first recipient; a client given an address later gets the letters already
there (`adopt`). The outgoing queue is a table with states (queued → sending → sent, or dead)
and a lease, so a letter queued is never lost: a stop mid-send leaves it 'sending' with a lease
that runs out, and the next start sends it again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from adapters.builtin import stored_files
from adapters.builtin.db import ConflictError, Database, NotFoundError, Row, now_iso
from adapters.builtin.mail_parse import Attachment, Letter

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # a received file over this keeps its name and size only
MAX_ATTEMPTS = 8  # sending attempts before a letter is dead
LEASE_SECONDS = 120.0  # a letter 'sending' longer than this (the daemon stopped) is due again
BACKOFF_FIRST, BACKOFF_MAX = 30.0, 3600.0

# Mailbox columns the API may show: never `secret`, `secret_env`'s value is a name, not a secret.
PUBLIC_MAILBOX = (
    "id, address, name, access, owner_id, login, imap_host, imap_port, imap_security, smtp_host,"
    " smtp_port, smtp_security, folder, enabled, status, checked_at, created_at,"
    " secret != '' AS password_stored, secret_env, secret_file != '' AS password_in_file"
)
MAILBOX_FIELDS = frozenset(
    {
        "address", "name", "access", "owner_id", "login", "secret", "secret_env", "secret_file",
        "imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security",
        "folder", "enabled",
    }
)  # fmt: skip


async def ensure_schema(db: Database) -> None:
    """Create the mail tables (idempotent)."""
    script = resources.files("adapters.builtin").joinpath("schema_mail.sql").read_text("utf-8")
    await db.apply_script(script)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads the mail: letters of others' personal mailboxes stay hidden unless with a client."""

    employee_id: int | None


def _visible(viewer: Viewer, alias: str = "m") -> tuple[str, list[Any]]:
    return (
        f" AND ({alias}.client_id IS NOT NULL OR {alias}.mailbox_id IS NULL OR EXISTS (SELECT 1 FROM"
        f" mailboxes b WHERE b.id = {alias}.mailbox_id AND (b.access = 'common' OR b.owner_id = ?)))",
        [viewer.employee_id if viewer.employee_id is not None else -1],
    )


class Mail:
    """The mail tables and the attachment files beside the database."""

    def __init__(
        self, db: Database, files: Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self._files = files
        self.clock = clock

    @property
    def files(self) -> Path:
        """The folder of attachment files (beside the database unless given)."""
        return self._files or self.db.files_dir / "mail-files"

    # -- mailboxes -----------------------------------------------------------------------------

    async def mailboxes(self, *, enabled_only: bool = False) -> list[Row]:
        """Connected mailboxes as the API shows them (no secrets)."""
        where = " WHERE enabled = 1" if enabled_only else ""
        return await self.db.fetch_all(f"SELECT {PUBLIC_MAILBOX} FROM mailboxes{where} ORDER BY id")

    async def mailbox(self, mailbox_id: int, *, with_secret: bool = False) -> Row:
        """One mailbox (NotFoundError if absent); `with_secret` only for the worker's own use."""
        cols = "*" if with_secret else PUBLIC_MAILBOX
        row = await self.db.fetch_one(f"SELECT {cols} FROM mailboxes WHERE id = ?", (mailbox_id,))
        if row is None:
            raise NotFoundError("mailbox", mailbox_id)
        return row

    async def add_mailbox(self, fields: Mapping[str, Any]) -> Row:
        """Connect a mailbox."""
        values = {k: v for k, v in fields.items() if k in MAILBOX_FIELDS}
        if await self.db.scalar("SELECT id FROM mailboxes WHERE address = ?", (values.get("address"),)):
            raise ConflictError(f"почта {values.get('address')} уже подключена: измените её в настройках")
        values["created_at"] = now_iso()
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        new_id = await self.db.write(f"INSERT INTO mailboxes ({names}) VALUES ({marks})", values.values())
        return await self.mailbox(new_id)

    async def update_mailbox(self, mailbox_id: int, fields: Mapping[str, Any]) -> Row:
        """Change a mailbox; a new address or login starts its fetching afresh."""
        current = await self.mailbox(mailbox_id, with_secret=True)
        values = {k: v for k, v in fields.items() if k in MAILBOX_FIELDS}
        if any(k in values and values[k] != current[k] for k in ("address", "login", "imap_host", "folder")):
            values.update(uidvalidity=None, last_uid=0)
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            await self.db.write(f"UPDATE mailboxes SET {sets}, status = '' WHERE id = ?",
                                [*values.values(), mailbox_id])  # fmt: skip
        return await self.mailbox(mailbox_id)

    async def record_check(
        self, mailbox_id: int, status: str, *, uidvalidity: int | None = None, last_uid: int | None = None
    ) -> None:
        """Remember how the last fetch went and, when it got letters, how far it got."""
        if uidvalidity is None or last_uid is None:
            await self.db.write("UPDATE mailboxes SET status = ?, checked_at = ? WHERE id = ?",
                                (status, now_iso(), mailbox_id))  # fmt: skip
            return
        await self.db.write(
            "UPDATE mailboxes SET status = ?, checked_at = ?, uidvalidity = ?, last_uid = ? WHERE id = ?",
            (status, now_iso(), uidvalidity, last_uid, mailbox_id),
        )

    # -- matching ------------------------------------------------------------------------------

    async def client_by_address(self, addr: str) -> int | None:
        """The client whose card lists `addr` (any case), the earliest if several; None otherwise."""
        if not addr:
            return None
        found = await self.db.scalar(
            "SELECT MIN(id) FROM (SELECT id FROM clients WHERE lower(email) = ?"
            " UNION SELECT client_id AS id FROM client_emails WHERE lower(email) = ?) AS hits",
            (addr.lower(), addr.lower()),
        )
        return int(found) if found is not None else None

    async def _client_of_thread(self, letter: Letter) -> int | None:
        """The client of the letters this one answers (a client writing back from another address)."""
        parents = [p for p in (letter.in_reply_to, *letter.refs) if p][-20:]
        if not parents:
            return None
        marks = ", ".join("?" for _ in parents)
        found = await self.db.scalar(
            f"SELECT client_id FROM mail_messages WHERE message_id IN ({marks}) AND client_id IS NOT NULL"
            " ORDER BY sent_at DESC LIMIT 1",
            parents,
        )
        return int(found) if found is not None else None

    async def adopt(self, client_id: int, addresses: list[str]) -> int:
        """Give `client_id` the unmatched letters from (or to) its addresses; how many it got."""
        moved = 0
        for addr in {a.lower() for a in addresses if a}:
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "UPDATE mail_messages SET client_id = ? WHERE client_id IS NULL AND"
                    " ((direction = 'in' AND from_addr = ?) OR (direction = 'out' AND to_addrs = ?))",
                    (client_id, addr, addr),
                )
                moved += cur.rowcount
        return moved

    # -- received letters ----------------------------------------------------------------------

    async def save_incoming(self, mailbox_id: int, uid: int, letter: Letter) -> int | None:
        """Keep a received letter with its files; None when this mailbox has it already."""
        exists = await self.db.scalar(
            "SELECT id FROM mail_messages WHERE mailbox_id = ? AND direction = 'in' AND message_id = ?",
            (mailbox_id, letter.message_id),
        )
        if exists is not None:
            return None
        client_id = await self.client_by_address(letter.from_addr) or await self._client_of_thread(letter)
        stored = [await self._store_file(a) for a in letter.attachments]
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO mail_messages (mailbox_id, direction, message_id, thread, in_reply_to, refs,"
                " from_addr, from_name, to_addrs, cc_addrs, subject, body, sent_at, created_at, client_id,"
                " imap_uid, status) VALUES (?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received')",
                (
                    mailbox_id, letter.message_id, letter.thread, letter.in_reply_to,
                    " ".join(letter.refs), letter.from_addr, letter.from_name, ", ".join(letter.to_addrs),
                    ", ".join(letter.cc_addrs), letter.subject, letter.body, letter.sent_at, now_iso(),
                    client_id, uid,
                ),
            )  # fmt: skip
            letter_id = int(cur.lastrowid or 0)
            await _insert_attachments(conn, letter_id, letter.attachments, stored)
        return letter_id

    async def _store_file(self, item: Attachment) -> str:
        """Write an attachment's bytes under their SHA-256 (once); '' when over the limit."""
        if len(item.data) > MAX_ATTACHMENT_BYTES:
            return ""
        return await stored_files.keep(self.files, item.data)

    def file_path(self, digest: str) -> Path:
        """Where the bytes of an attachment with this SHA-256 live."""
        return stored_files.path_of(self.files, digest)

    # -- reading -------------------------------------------------------------------------------

    async def letters(
        self,
        viewer: Viewer,
        *,
        client_id: int | None = None,
        unmatched: bool = False,
        q: str = "",
        limit: int,
        offset: int,
    ) -> tuple[list[Row], int]:
        """A page of letters, newest first, with the client's name and the number of files."""
        where, params = _visible(viewer)
        if client_id is not None:
            where += " AND m.client_id = ?"
            params.append(client_id)
        if unmatched:  # letters from senders who are no client yet
            where += " AND m.client_id IS NULL AND m.direction = 'in'"
        if q:
            where += " AND (fold(m.subject) LIKE ? OR fold(m.from_addr) LIKE ? OR fold(m.from_name) LIKE ?)"
            params += [f"%{q.lower()}%"] * 3
        total = await self.db.scalar(f"SELECT COUNT(*) FROM mail_messages m WHERE 1 = 1{where}", params)
        rows = await self.db.fetch_all(
            f"SELECT m.id, m.direction, m.subject, m.from_addr, m.from_name, m.to_addrs, m.sent_at, m.status,"
            f" m.client_id, c.name AS client_name, m.mailbox_id, substr(m.body, 1, 160) AS preview,"
            f" (SELECT COUNT(*) FROM mail_attachments a WHERE a.message_id = m.id) AS files"
            f" FROM mail_messages m LEFT JOIN clients c ON c.id = m.client_id WHERE 1 = 1{where}"
            f" ORDER BY m.sent_at DESC, m.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, int(total or 0)

    async def letter(self, letter_id: int, viewer: Viewer) -> Row:
        """One letter with its files, the queue's state for a written one, and its thread."""
        where, params = _visible(viewer)
        row = await self.db.fetch_one(
            "SELECT m.*, c.name AS client_name, e.name AS employee_name FROM mail_messages m"
            " LEFT JOIN clients c ON c.id = m.client_id LEFT JOIN employees e ON e.id = m.employee_id"
            f" WHERE m.id = ?{where}",
            [letter_id, *params],
        )
        if row is None:
            raise NotFoundError("letter", letter_id)
        row["attachments"] = await self.db.fetch_all(
            "SELECT id, name, ctype, size, stored FROM mail_attachments WHERE message_id = ? ORDER BY id",
            (letter_id,),
        )
        row["queue"] = await self.db.fetch_one(
            "SELECT state, attempts, last_error FROM mail_outgoing WHERE message_id = ?", (letter_id,)
        )
        row["thread_letters"] = await self.db.fetch_all(
            f"SELECT m.id, m.direction, m.subject, m.from_addr, m.sent_at, m.status FROM mail_messages m"
            f" WHERE m.thread = ?{where} ORDER BY m.sent_at, m.id LIMIT 100",
            [row["thread"], *params],
        )
        return row

    async def attachment(self, attachment_id: int, viewer: Viewer) -> Row:
        """An attachment's record, if the viewer may read its letter (NotFoundError otherwise)."""
        row = await self.db.fetch_one("SELECT * FROM mail_attachments WHERE id = ?", (attachment_id,))
        if row is None:
            raise NotFoundError("attachment", attachment_id)
        await self.letter(row["message_id"], viewer)
        return row

    async def set_client(self, letter_id: int, client_id: int) -> None:
        """Put a letter (and the rest from the same address) on a client's card."""
        row = await self.db.fetch_one("SELECT from_addr FROM mail_messages WHERE id = ?", (letter_id,))
        if row is None:
            raise NotFoundError("letter", letter_id)
        await self.db.write("UPDATE mail_messages SET client_id = ? WHERE id = ?", (client_id, letter_id))
        await self.adopt(client_id, [row["from_addr"]])

    # -- written letters and the queue ---------------------------------------------------------

    async def enqueue(
        self, letter: Mapping[str, Any], raw: str, mail_from: str, recipients: list[str]
    ) -> int:
        """Keep a written letter and queue it, in one transaction; the letter's id."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO mail_messages (mailbox_id, direction, message_id, thread, in_reply_to, refs,"
                " from_addr, from_name, to_addrs, cc_addrs, subject, body, sent_at, created_at, client_id,"
                " employee_id, status) VALUES (?, 'out', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')",
                (
                    letter["mailbox_id"], letter["message_id"], letter["thread"], letter["in_reply_to"],
                    letter["refs"], mail_from, letter["from_name"], letter["to_addrs"], letter["cc_addrs"],
                    letter["subject"], letter["body"], now_iso(), now_iso(), letter["client_id"],
                    letter["employee_id"],
                ),
            )  # fmt: skip
            letter_id = int(cur.lastrowid or 0)
            await _insert_attachments(conn, letter_id, letter["attachments"], letter["stored"])
            await conn.execute(
                "INSERT INTO mail_outgoing (message_id, mailbox_id, raw, mail_from, recipients, state,"
                " not_before, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (letter_id, letter["mailbox_id"], raw, mail_from, json.dumps(recipients), now, now),
            )
        return letter_id

    async def store_files(self, items: tuple[Attachment, ...]) -> list[str]:
        """Keep the files of a written letter (so its card can offer them); their digests."""
        return [await self._store_file(a) for a in items]

    async def claim(self) -> Row | None:
        """The next letter due to be sent, now leased to the caller; None when nothing is due."""
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT id, message_id FROM mail_outgoing WHERE (state = 'queued' AND not_before <= ?)"
                " OR (state = 'sending' AND lease_until <= ?) ORDER BY not_before, id LIMIT 1",
                (now, now),
            ) as cur:
                found = await cur.fetchone()
            if found is None:
                return None
            await conn.execute(
                "UPDATE mail_outgoing SET state = 'sending', lease_until = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (now + LEASE_SECONDS, found[0]),
            )
            await conn.execute("UPDATE mail_messages SET status = 'sending' WHERE id = ?", (found[1],))
        return await self.db.fetch_one("SELECT * FROM mail_outgoing WHERE id = ?", (found[0],))

    async def sent(self, job: Row, note: str = "") -> None:
        """The server took the letter."""
        await self._finish(job, "sent", note, None)

    async def failed(self, job: Row, error: str, *, permanent: bool) -> str:
        """A try failed: due again after a growing pause, or dead when permanent or out of tries."""
        if permanent or job["attempts"] >= MAX_ATTEMPTS:
            await self._finish(job, "dead", error, None)
            return "dead"
        pause = min(BACKOFF_FIRST * 2 ** (job["attempts"] - 1), BACKOFF_MAX) * random.uniform(0.8, 1.2)
        await self._finish(job, "queued", error, self.clock() + pause)
        return "queued"

    async def _finish(self, job: Row, state: str, error: str, due: float | None) -> None:
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE mail_outgoing SET state = ?, last_error = ?, not_before = COALESCE(?, not_before),"
                " lease_until = NULL, finished_at = ? WHERE id = ?",
                (state, error[:1000], due, now if state in ("sent", "dead") else None, job["id"]),
            )
            await conn.execute("UPDATE mail_messages SET status = ? WHERE id = ?", (state, job["message_id"]))

    async def resend(self, letter_id: int) -> None:
        """A dead letter back into the queue, due now, with its tries counted afresh."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE mail_outgoing SET state = 'queued', attempts = 0, not_before = ?, finished_at = NULL"
                " WHERE message_id = ? AND state = 'dead'",
                (self.clock(), letter_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError("dead letter", letter_id)
            await conn.execute("UPDATE mail_messages SET status = 'queued' WHERE id = ?", (letter_id,))

    async def next_due(self) -> float | None:
        """When the next queued letter falls due (unix seconds), or None with an empty queue."""
        due = await self.db.scalar(
            "SELECT MIN(CASE state WHEN 'queued' THEN not_before ELSE lease_until END) FROM mail_outgoing"
            " WHERE state IN ('queued', 'sending')"
        )
        return float(due) if due is not None else None

    async def queue_counts(self) -> dict[str, int]:
        """Letters in the queue by state."""
        rows = await self.db.fetch_all("SELECT state, COUNT(*) AS n FROM mail_outgoing GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    # -- templates -----------------------------------------------------------------------------

    async def templates(self) -> list[Row]:
        """Letter templates by name."""
        return await self.db.fetch_all("SELECT * FROM mail_templates ORDER BY name")

    async def template(self, template_id: int) -> Row:
        """One template (NotFoundError if absent)."""
        row = await self.db.fetch_one("SELECT * FROM mail_templates WHERE id = ?", (template_id,))
        if row is None:
            raise NotFoundError("template", template_id)
        return row

    async def add_template(self, name: str, subject: str, body: str) -> Row:
        """Save a template."""
        new_id = await self.db.write(
            "INSERT INTO mail_templates (name, subject, body, created_at) VALUES (?, ?, ?, ?)",
            (name, subject, body, now_iso()),
        )
        return await self.template(new_id)

    async def delete_template(self, template_id: int) -> None:
        """Remove a template."""
        await self.template(template_id)
        await self.db.write("DELETE FROM mail_templates WHERE id = ?", (template_id,))


async def _insert_attachments(
    conn: Any, letter_id: int, items: tuple[Attachment, ...], stored: list[str]
) -> None:
    await conn.executemany(
        "INSERT INTO mail_attachments (message_id, name, ctype, size, sha256, stored)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (letter_id, a.name, a.ctype, len(a.data), digest, int(bool(digest)))
            for a, digest in zip(items, stored, strict=True)
        ],
    )

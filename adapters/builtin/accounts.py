"""Sign-in accounts of the built-in CRM's employees: logins, password hashes, sessions, the audit log.

A session id is 32 random bytes given to the browser once, in an HttpOnly cookie; the store keeps
only its SHA-256, so neither a database copy nor a log line signs anyone in. A session ends when
it has been idle too long, at its absolute expiry, at sign-out, when its person's password
changes, and when the person is deactivated. Each person keeps at most `max_per_person`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from adapters.builtin.db import ConflictError, Database, Row, now_iso
from connector.api.settings import SessionSettings

TOUCH_EVERY = 60.0  # seconds: last_seen is written at most this often per session
AUDIT_KEEP_ROWS = 1_000_000  # the oldest audit rows go past this many
_EMPLOYEE_COLUMNS = (
    ("login", "TEXT"),
    ("password_hash", "TEXT"),
    ("active", "INTEGER NOT NULL DEFAULT 1"),
    ("password_changed_at", "TEXT"),
)
_SECRET_KEYS = ("password", "token", "secret", "current_password", "new_password")


def session_hash(session_id: str) -> str:
    """What the store keeps of a session id."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


async def ensure_schema(db: Database) -> None:
    """Create the sessions and audit tables and add the account columns to employees (idempotent)."""
    script = resources.files("adapters.builtin").joinpath("schema_accounts.sql").read_text("utf-8")
    await db.add_columns("employees", _EMPLOYEE_COLUMNS)
    async with db.transaction() as conn:
        await conn.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS employees_login ON employees(login COLLATE NOCASE)"
            " WHERE login IS NOT NULL"
        )
    await db.apply_script(script)


class Accounts:
    """Logins, password hashes, active flags and sessions of the employees."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def by_login(self, login: str) -> Row | None:
        """The employee signing in as `login` (any case), with the password hash, or None."""
        return await self.db.fetch_one(
            "SELECT id, name, extension, role, login, password_hash, active FROM employees"
            " WHERE login = ? COLLATE NOCASE",
            (login.strip(),),
        )

    async def set_login(self, employee_id: int, login: str) -> None:
        """Give the employee a login (ConflictError when another employee has it)."""
        other = await self.by_login(login)
        if other is not None and other["id"] != employee_id:
            raise ConflictError(f"login {login} is taken")
        await self.db.write("UPDATE employees SET login = ? WHERE id = ?", (login.strip(), employee_id))

    async def set_password_hash(self, employee_id: int, password_hash: str) -> None:
        """Store a new password hash and end every session of the employee."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE employees SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                (password_hash, now_iso(), employee_id),
            )
            await conn.execute("DELETE FROM sessions WHERE employee_id = ?", (employee_id,))

    async def rehash(self, employee_id: int, password_hash: str) -> None:
        """Replace the hash with a stronger one of the same password (sessions stay)."""
        await self.db.write(
            "UPDATE employees SET password_hash = ? WHERE id = ?", (password_hash, employee_id)
        )

    async def set_active(self, employee_id: int, active: bool) -> None:
        """(De)activate an employee; deactivation ends their sessions (tokens are refused too)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE employees SET active = ? WHERE id = ?", (int(active), employee_id))
            if not active:
                await conn.execute("DELETE FROM sessions WHERE employee_id = ?", (employee_id,))

    async def open_session(
        self, employee_id: int, settings: SessionSettings, address: str = "", user_agent: str = ""
    ) -> str:
        """A new session for the employee; the id is returned once and only its hash is stored."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            await conn.execute(
                "INSERT INTO sessions (id_hash, employee_id, created_at, last_seen, expires_at, address,"
                " user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_hash(session_id), employee_id, now, now, now + settings.absolute_hours * 3600,
                 address[:64], user_agent[:200]),
            )  # fmt: skip
            await conn.execute(
                "DELETE FROM sessions WHERE employee_id = ? AND id_hash NOT IN (SELECT id_hash FROM sessions"
                " WHERE employee_id = ? ORDER BY created_at DESC LIMIT ?)",
                (employee_id, employee_id, settings.max_per_person),
            )
        return session_id

    async def session(self, session_id: str, settings: SessionSettings) -> Row | None:
        """The live session's employee (active only), or None; an expired one is deleted."""
        key = session_hash(session_id)
        row = await self.db.fetch_one(
            "SELECT s.id_hash, s.last_seen, s.expires_at, e.id, e.name, e.extension, e.role, e.active"
            " FROM sessions s JOIN employees e ON e.id = s.employee_id WHERE s.id_hash = ?",
            (key,),
        )
        if row is None:
            return None
        now = self.clock()
        idle_end = row["last_seen"] + settings.idle_minutes * 60
        if now >= row["expires_at"] or now >= idle_end or not row["active"]:
            await self.db.write("DELETE FROM sessions WHERE id_hash = ?", (key,))
            return None
        if now - row["last_seen"] >= TOUCH_EVERY:
            await self.db.write("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, key))
        return row

    async def close_session(self, session_id: str) -> int | None:
        """End one session (sign-out); the employee it belonged to, if it existed."""
        key = session_hash(session_id)
        owner = await self.db.scalar("SELECT employee_id FROM sessions WHERE id_hash = ?", (key,))
        await self.db.write("DELETE FROM sessions WHERE id_hash = ?", (key,))
        return int(owner) if owner is not None else None

    async def sessions_of(self, employee_id: int) -> int:
        """How many sessions the employee has (expired ones included until swept)."""
        return int(
            await self.db.scalar("SELECT COUNT(*) FROM sessions WHERE employee_id = ?", (employee_id,))
        )


class AuditLog:
    """Append-only record of who changed what; bounded to the newest `AUDIT_KEEP_ROWS` rows."""

    def __init__(self, db: Database, keep_rows: int = AUDIT_KEEP_ROWS) -> None:
        self.db = db
        self.keep_rows = keep_rows
        self._writes = 0

    async def record(
        self,
        actor_id: int | None,
        actor: str,
        action: str,
        entity: str,
        entity_id: object = None,
        *,
        detail: dict[str, Any] | None = None,
        address: str = "",
    ) -> None:
        """Append one entry; secrets in `detail` are replaced by '***'."""
        text = json.dumps(redact(detail or {}), ensure_ascii=False, default=str)[:4000]
        await self.db.write(
            "INSERT INTO audit (at, actor_id, actor, action, entity, entity_id, detail, address)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now_iso(), actor_id, actor[:200], action, entity, None if entity_id is None else str(entity_id),
             text, address[:64]),
        )  # fmt: skip
        self._writes += 1
        if self._writes % 1000 == 0:
            await self.trim()

    async def trim(self) -> None:
        """Drop the oldest rows past the limit."""
        await self.db.write(
            "DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?", (self.keep_rows,)
        )

    async def list(
        self, entity: str | None, actor_id: int | None, *, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        """A page of entries, newest first, optionally for one kind of record or one person."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if entity:
            where.append("entity = ?")
            params.append(entity)
        if actor_id is not None:
            where.append("actor_id = ?")
            params.append(actor_id)
        cond = " AND ".join(where)
        total = await self.db.scalar(f"SELECT COUNT(*) FROM audit WHERE {cond}", params)
        rows = await self.db.fetch_all(
            f"SELECT * FROM audit WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
        )
        for row in rows:
            row["detail"] = json.loads(row["detail"] or "{}")
        return rows, int(total or 0)


def redact(detail: dict[str, Any]) -> dict[str, Any]:
    """`detail` with every secret-looking member masked (nested objects too)."""
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if any(word in key.lower() for word in _SECRET_KEYS):
            out[key] = "***"
        elif isinstance(value, dict):
            out[key] = redact(value)
        else:
            out[key] = value
    return out

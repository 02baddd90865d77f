"""Employees, clients (with their phones), contact cards and companies in the built-in CRM."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from adapters.builtin import journal
from adapters.builtin.db import ConflictError, Database, NotFoundError, Row, calls_visible_to, now_iso
from adapters.builtin.search import client_condition, fold, refresh_index

ROLES = ("admin", "manager", "employee")
SCREEN_POP = ("never", "ring", "answer")


def token_hash(token: str) -> str:
    """What the store keeps of an API token (a SHA-256 hex digest)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Employees:
    """The people who use the CRM: extension, role, API token, screen-pop preference."""

    _COLUMNS = "id, name, extension, role, screen_pop, login, active, pbx, created_at"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, extension: str, role: str, token: str | None = None) -> tuple[Row, str]:
        """Add an employee; returns the row and the API token (shown once, stored hashed)."""
        token = token or secrets.token_urlsafe(24)
        if await self.by_extension(extension) is not None:
            raise ConflictError(f"extension {extension} already belongs to an employee")
        new_id = await self.db.write(
            "INSERT INTO employees (name, extension, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, extension, role, token_hash(token), now_iso()),
        )
        return await self.get(new_id), token

    async def get(self, employee_id: int) -> Row:
        """One employee (NotFoundError if absent)."""
        row = await self.db.fetch_one(f"SELECT {self._COLUMNS} FROM employees WHERE id = ?", (employee_id,))
        if row is None:
            raise NotFoundError("employee", employee_id)
        return row

    async def by_token(self, token: str) -> Row | None:
        """The active employee holding `token`; looked up by its hash, so no token is compared as text."""
        return await self.db.fetch_one(
            f"SELECT {self._COLUMNS} FROM employees WHERE token_hash = ? AND active = 1", (token_hash(token),)
        )

    async def update(self, employee_id: int, changes: dict[str, Any]) -> Row:
        """Change name, extension, role or office (ConflictError when the extension is taken)."""
        await self.get(employee_id)
        fields = {k: v for k, v in changes.items() if k in ("name", "extension", "role", "pbx")}
        if "extension" in fields:
            other = await self.by_extension(fields["extension"])
            if other is not None and other["id"] != employee_id:
                raise ConflictError(f"extension {fields['extension']} already belongs to an employee")
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            await self.db.write(f"UPDATE employees SET {sets} WHERE id = ?", [*fields.values(), employee_id])
        return await self.get(employee_id)

    async def rotate_token(self, employee_id: int) -> str:
        """A new API token for the employee (the old one stops working); shown once."""
        await self.get(employee_id)
        token = secrets.token_urlsafe(24)
        await self.db.write(
            "UPDATE employees SET token_hash = ? WHERE id = ?", (token_hash(token), employee_id)
        )
        return token

    async def active_admins(self) -> int:
        """How many active admins there are (the last one may not be demoted or deactivated)."""
        return int(await self.db.scalar("SELECT COUNT(*) FROM employees WHERE role = 'admin' AND active = 1"))

    async def by_extension(self, extension: str) -> Row | None:
        """The employee at `extension`, or None."""
        return await self.db.fetch_one(
            f"SELECT {self._COLUMNS} FROM employees WHERE extension = ?", (extension,)
        )

    async def office_of(self, extension: str) -> str | None:
        """The office whose PBX has `extension` ('' or None: this CRM's own), for call control."""
        row = await self.db.fetch_one("SELECT pbx FROM employees WHERE extension = ?", (extension,))
        return str(row["pbx"]) if row else None

    async def list(self) -> list[Row]:
        """Every employee, by extension."""
        return await self.db.fetch_all(f"SELECT {self._COLUMNS} FROM employees ORDER BY extension")

    async def set_screen_pop(self, employee_id: int, mode: str) -> Row:
        """Change when the client card opens for this employee: never / ring / answer."""
        await self.db.write("UPDATE employees SET screen_pop = ? WHERE id = ?", (mode, employee_id))
        return await self.get(employee_id)


class Clients:
    """Clients and the contact cards made automatically for unknown numbers."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        name: str,
        phones: Iterable[str] = (),
        *,
        kind: str = "client",
        company_id: int | None = None,
        responsible_id: int | None = None,
        email: str = "",
        notes: str = "",
    ) -> int:
        """Add a client with its numbers (ConflictError if a number belongs to another client)."""
        phones = list(dict.fromkeys(phones))
        stamp = now_iso()
        async with self.db.transaction() as conn:
            for phone in phones:
                await _refuse_owned(conn, phone)
            cursor = await conn.execute(
                "INSERT INTO clients (kind, name, email, notes, company_id, responsible_id, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, name, email, notes, company_id, responsible_id, stamp, stamp),
            )
            client_id = int(cursor.lastrowid or 0)
            for phone in phones:
                await _take_phone(conn, phone, client_id)
        return client_id

    async def get(self, client_id: int) -> Row:
        """A client with phones, company and responsible employee (NotFoundError if absent)."""
        row = await self.db.fetch_one(_CLIENT_SELECT + " WHERE c.id = ?", (client_id,))
        if row is None:
            raise NotFoundError("client", client_id)
        return await self._with_phones(row)

    async def by_phone(self, phone: str) -> Row | None:
        """The client or contact card holding `phone`, or None."""
        row = await self.db.fetch_one(
            _CLIENT_SELECT + " JOIN phones p ON p.client_id = c.id WHERE p.phone = ?", (phone,)
        )
        return await self._with_phones(row) if row else None

    async def ensure_contact(self, phone: str) -> int:
        """The id of the card holding `phone`, creating an unnamed contact card when none does."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT client_id FROM phones WHERE phone = ?", (phone,)) as cur:
                found = await cur.fetchone()
            if found is not None:
                return int(found[0])
            stamp = now_iso()
            cursor = await conn.execute(
                "INSERT INTO clients (kind, name, created_at, updated_at) VALUES ('contact', '', ?, ?)",
                (stamp, stamp),
            )
            client_id = int(cursor.lastrowid or 0)
            await conn.execute("INSERT INTO phones (phone, client_id) VALUES (?, ?)", (phone, client_id))
        return client_id

    async def list(
        self,
        q: str = "",
        kind: str | None = None,
        company_id: int | None = None,
        *,
        limit: int,
        offset: int,
        where_also: tuple[str, list[Any]] | None = None,
        archived: bool = False,
    ) -> tuple[list[Row], int]:
        """A page of clients matching a search (name, e-mail, phone digits) and the total count.

        `where_also`: one more condition on clients `c` with its parameters (the super-filter's).
        `archived`: the archive instead of the working list.
        """
        where: list[str] = ["c.archived_at IS NOT NULL" if archived else "c.archived_at IS NULL"]
        params: list[Any] = []
        if where_also is not None:
            where.append(f"({where_also[0]})")
            params += where_also[1]
        if kind:
            where.append("c.kind = ?")
            params.append(kind)
        if company_id is not None:
            where.append("c.company_id = ?")
            params.append(company_id)
        if q:
            await refresh_index(self.db)
            found, found_params = client_condition(q)
            where.append(found)
            params += found_params
        cond = " AND ".join(where)
        total = await self.db.scalar(f"SELECT COUNT(*) FROM clients c WHERE {cond}", params)
        rows = await self.db.fetch_all(
            f"{_CLIENT_SELECT} WHERE {cond} ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [await self._with_phones(r) for r in rows], int(total or 0)

    async def update(self, client_id: int, changes: dict[str, Any], by: int | None = None) -> Row:
        """Change a client's fields (journalled with who); naming a contact card makes it a client.

        `emails` replaces the whole list: the first is kept in `email`, the rest beside it.
        """
        before = await self.get(client_id)
        _refuse_archived(before)
        allowed = {"name", "email", "notes", "company_id", "responsible_id", "kind"}
        fields = {k: v for k, v in changes.items() if k in allowed}
        emails = changes.get("emails")
        if emails is not None:
            emails = list(dict.fromkeys(e for e in emails if e))
            fields["email"] = emails[0] if emails else ""
        async with self.db.transaction() as conn:
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                await conn.execute(
                    f"UPDATE clients SET {sets}, search = '', updated_at = ? WHERE id = ?",
                    [*fields.values(), now_iso(), client_id],
                )
            if emails is not None:
                await conn.execute("DELETE FROM client_emails WHERE client_id = ?", (client_id,))
                await conn.executemany(
                    "INSERT INTO client_emails (client_id, email, position) VALUES (?, ?, ?)",
                    [(client_id, e, n) for n, e in enumerate(emails[1:], 1)],
                )
            if emails is not None:
                fields["emails"] = emails
            await self._journal_changes(conn, before, fields, by)
        return await self.get(client_id)

    async def _journal_changes(self, conn: Any, before: Row, fields: dict[str, Any], by: int | None) -> None:
        names = {"company_id": "company_name", "responsible_id": "responsible_name"}
        for key, value in fields.items():
            old = before.get(key)
            if key in ("kind", "email") or old == value:
                continue
            new = value
            if key in names:
                new, old = await _name_of(conn, key, value), before.get(names[key])
            if isinstance(value, list):
                new, old = ", ".join(value), ", ".join(old or [])
            text = f"{journal.FIELD_NAMES.get(key, key)}: {journal.describe(old)} → {journal.describe(new)}"
            await journal.write(conn, "change", text, client_id=before["id"], employee_id=by)

    async def archive(self, client_id: int, by: int | None = None) -> Row:
        """Send a client to the archive, as the manual says: for good (no way back), its deals
        deleted with it. Its numbers are set free (a new call from one makes a new contact card)
        and kept on the archived card as text; its calls, comments and tasks stay readable there;
        its open reminders are closed so none fires for a client nobody works with any more."""
        before = await self.get(client_id)
        _refuse_archived(before)
        stamp = now_iso()
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM custom_values WHERE record_id IN (SELECT id FROM deals WHERE client_id = ?)"
                " AND field_id IN (SELECT id FROM custom_fields WHERE entity = 'deal')",
                (client_id,),
            )
            deals = await conn.execute("DELETE FROM deals WHERE client_id = ?", (client_id,))
            await conn.execute("DELETE FROM phones WHERE client_id = ?", (client_id,))
            await conn.execute("UPDATE reminders SET done = 1 WHERE client_id = ? AND done = 0", (client_id,))
            await conn.execute(
                "UPDATE clients SET archived_at = ?, archived_phones = ?, updated_at = ? WHERE id = ?",
                (stamp, ", ".join(before["phones"]), stamp, client_id),
            )
            text = f"Клиент отправлен в архив (удалено сделок: {max(deals.rowcount, 0)})"
            await journal.write(conn, "change", text, client_id=client_id, employee_id=by)
        return await self.get(client_id)

    async def remove_phone(self, client_id: int, phone: str, by: int | None = None) -> Row:
        """Take a number off a client (its calls stay on the card)."""
        await self.get(client_id)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM phones WHERE client_id = ? AND phone = ?", (client_id, phone)
            )
            if not cursor.rowcount:
                raise NotFoundError("phone", phone)
            text = f"Телефон удалён: {phone}"
            await journal.write(conn, "change", text, client_id=client_id, employee_id=by)
        return await self.get(client_id)

    async def add_phone(self, client_id: int, phone: str, by: int | None = None) -> Row:
        """Give `phone` to a client; a contact card holding it is merged in (calls, notes, tasks)."""
        _refuse_archived(await self.get(client_id))
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT c.id, c.kind FROM phones p JOIN clients c ON c.id = p.client_id WHERE p.phone = ?",
                (phone,),
            ) as cur:
                owner = await cur.fetchone()
            if owner is not None and owner[0] != client_id:
                if owner[1] != "contact":
                    raise ConflictError(f"{phone} already belongs to client {owner[0]}")
                await _merge_card(conn, int(owner[0]), client_id)
            if owner is None:
                await conn.execute("INSERT INTO phones (phone, client_id) VALUES (?, ?)", (phone, client_id))
            await conn.execute("UPDATE calls SET client_id = ? WHERE phone = ?", (client_id, phone))
            if owner is None or owner[0] != client_id:
                await journal.write(
                    conn, "change", f"Телефон добавлен: {phone}", client_id=client_id, employee_id=by
                )
        return await self.get(client_id)

    async def _with_phones(self, row: Row) -> Row:
        phones = await self.db.fetch_all(
            "SELECT phone FROM phones WHERE client_id = ? ORDER BY phone", (row["id"],)
        )
        row["phones"] = [p["phone"] for p in phones]
        more = await self.db.fetch_all(
            "SELECT email FROM client_emails WHERE client_id = ? ORDER BY position", (row["id"],)
        )
        row["emails"] = [e for e in [row["email"], *(m["email"] for m in more)] if e]
        return row


async def _name_of(conn: Any, key: str, value: Any) -> str | None:
    if value is None:
        return None
    table = "companies" if key == "company_id" else "employees"
    async with conn.execute(f"SELECT name FROM {table} WHERE id = ?", (value,)) as cur:
        row = await cur.fetchone()
    return str(row[0]) if row else None


_CLIENT_SELECT = (
    "SELECT c.id, c.kind, c.name, c.email, c.notes, c.company_id, co.name AS company_name,"
    " c.responsible_id, e.name AS responsible_name, e.extension AS responsible_extension,"
    " c.created_at, c.updated_at, c.archived_at, c.archived_phones FROM clients c"
    " LEFT JOIN companies co ON co.id = c.company_id LEFT JOIN employees e ON e.id = c.responsible_id"
)


def _refuse_archived(row: Row) -> None:
    if row.get("archived_at"):
        raise ConflictError(f"клиент {row['id']} в архиве: карточку архива не меняют")


async def _refuse_owned(conn: Any, phone: str) -> None:
    async with conn.execute(
        "SELECT c.id, c.kind FROM phones p JOIN clients c ON c.id = p.client_id WHERE p.phone = ?", (phone,)
    ) as cur:
        owner = await cur.fetchone()
    if owner is not None and owner[1] != "contact":
        raise ConflictError(f"{phone} already belongs to client {owner[0]}")


async def _take_phone(conn: Any, phone: str, client_id: int) -> None:
    """Give `phone` to `client_id`, merging away the contact card that held it, if any."""
    async with conn.execute("SELECT client_id FROM phones WHERE phone = ?", (phone,)) as cur:
        owner = await cur.fetchone()
    if owner is not None:
        await _merge_card(conn, int(owner[0]), client_id)
    else:
        await conn.execute("INSERT INTO phones (phone, client_id) VALUES (?, ?)", (phone, client_id))
    await conn.execute("UPDATE calls SET client_id = ? WHERE phone = ?", (client_id, phone))


async def _merge_card(conn: Any, card_id: int, client_id: int) -> None:
    """Move everything of contact card `card_id` onto `client_id` and delete the card."""
    for table in ("phones", "calls", "comments", "tasks", "reminders", "deals", "journal", "client_emails",
                  "mail_messages"):  # fmt: skip
        await conn.execute(f"UPDATE {table} SET client_id = ? WHERE client_id = ?", (client_id, card_id))
    await conn.execute("DELETE FROM clients WHERE id = ?", (card_id,))


class Companies:
    """Companies (name, INN) and the people who work there."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, inn: str = "") -> int:
        """Add a company (a name or an INN is enough)."""
        return await self.db.write(
            "INSERT INTO companies (name, inn, created_at) VALUES (?, ?, ?)", (name, inn, now_iso())
        )

    async def get(self, company_id: int) -> Row:
        """A company with its people (NotFoundError if absent)."""
        row = await self.db.fetch_one("SELECT * FROM companies WHERE id = ?", (company_id,))
        if row is None:
            raise NotFoundError("company", company_id)
        row["people"] = await self.db.fetch_all(
            "SELECT c.id, c.name, c.kind, (SELECT group_concat(p.phone, ',') FROM phones p"
            " WHERE p.client_id = c.id) AS phone_list FROM clients c WHERE c.company_id = ? ORDER BY c.name",
            (company_id,),
        )
        for person in row["people"]:
            person["phones"] = [p for p in (person.pop("phone_list") or "").split(",") if p]
        return row

    async def card(self, company_id: int, extensions: tuple[str, ...] | None = None) -> Row:
        """The company card: its people, all their calls (the viewer's own for employees), deals, tasks."""
        row = await self.get(company_id)
        scope, visible = calls_visible_to(extensions)
        params: list[Any] = [company_id, *visible]
        row["calls"] = await self.db.fetch_all(
            "SELECT k.id, k.direction, k.disposition, k.phone, k.started_at, k.talk_seconds, k.employee,"
            " c.name AS client_name FROM calls k JOIN clients c ON c.id = k.client_id"
            f" WHERE c.company_id = ?{scope} ORDER BY k.started_at DESC LIMIT 200",
            params,
        )
        row["deals"] = await self.db.fetch_all(
            "SELECT d.* FROM deals d JOIN clients c ON c.id = d.client_id WHERE c.company_id = ?"
            " ORDER BY d.status <> 'open', d.created_at DESC LIMIT 200",
            (company_id,),
        )
        row["tasks"] = await self.db.fetch_all(
            "SELECT t.* FROM tasks t JOIN clients c ON c.id = t.client_id"
            " WHERE c.company_id = ? AND t.done = 0"
            " ORDER BY t.deadline IS NULL, t.deadline LIMIT 200",
            (company_id,),
        )
        return row

    async def update(self, company_id: int, changes: dict[str, Any]) -> Row:
        """Rename a company or change its INN."""
        await self.get(company_id)
        fields = {k: v for k, v in changes.items() if k in ("name", "inn")}
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            await self.db.write(f"UPDATE companies SET {sets} WHERE id = ?", [*fields.values(), company_id])
        return await self.get(company_id)

    async def list(self, q: str = "", *, limit: int, offset: int) -> tuple[list[Row], int]:
        """A page of companies whose name or INN contains `q` (any case), with counts, and the total."""
        like, folded = f"%{q}%", f"%{fold(q).strip()}%"
        cond = "(inn LIKE ? OR fold(name) LIKE ? OR name LIKE ?)"
        total = await self.db.scalar(f"SELECT COUNT(*) FROM companies WHERE {cond}", (like, folded, like))
        rows = await self.db.fetch_all(
            "SELECT co.*, (SELECT COUNT(*) FROM clients c WHERE c.company_id = co.id) AS people_count,"
            " (SELECT COUNT(*) FROM deals d JOIN clients c ON c.id = d.client_id"
            " WHERE c.company_id = co.id AND d.status = 'open') AS open_deals"
            f" FROM companies co WHERE {cond} ORDER BY co.name LIMIT ? OFFSET ?",
            (like, folded, like, limit, offset),
        )
        return rows, int(total or 0)

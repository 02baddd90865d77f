"""Lists of clients (manual: «Для чего нужны списки»): a client may be in several; lists are made
by an import or from the card, filter the clients page and choose whom an export or a mailing takes.

The tables are the analytics schema's (client_lists, client_list_members), made on first use.
"""

from __future__ import annotations

from adapters.builtin import journal
from adapters.builtin.campaigns import ensure_schema
from adapters.builtin.db import ConflictError, Database, NotFoundError, Row

MAX_LISTS = 500  # lists in a CRM: the card's picker and the filter stay short
MAX_NAME = 60


class ClientLists:
    """Lists and their members."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[Row]:
        """Every list with how many clients are in it, by name."""
        await ensure_schema(self.db)
        return await self.db.fetch_all(
            "SELECT l.id, l.name,"
            " (SELECT COUNT(*) FROM client_list_members m WHERE m.list_id = l.id) AS count"
            " FROM client_lists l ORDER BY l.name"
        )

    async def of_client(self, client_id: int) -> list[Row]:
        """The lists a client is in, by name."""
        await ensure_schema(self.db)
        return await self.db.fetch_all(
            "SELECT l.id, l.name FROM client_list_members m JOIN client_lists l ON l.id = m.list_id"
            " WHERE m.client_id = ? ORDER BY l.name",
            (client_id,),
        )

    async def add(self, client_id: int, name: str, by: int | None = None) -> list[Row]:
        """Put a client in list `name` (made if new); the client's lists afterwards."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise ValueError(f"a list's name is 1 to {MAX_NAME} characters")
        await ensure_schema(self.db)
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT id FROM client_lists WHERE name = ?", (name,)) as cur:
                found = await cur.fetchone()
            if found is None:
                async with conn.execute("SELECT COUNT(*) FROM client_lists") as cur:
                    count = (await cur.fetchone() or (0,))[0]
                if count >= MAX_LISTS:
                    raise ConflictError(f"at most {MAX_LISTS} lists: add to an existing one")
                list_id = int(
                    (await conn.execute("INSERT INTO client_lists (name) VALUES (?)", (name,))).lastrowid or 0
                )
            else:
                list_id = int(found[0])
            added = await conn.execute(
                "INSERT INTO client_list_members (list_id, client_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (list_id, client_id),
            )
            if added.rowcount:
                await journal.write(
                    conn, "change", f"Добавлен в список «{name}»", client_id=client_id, employee_id=by
                )
        return await self.of_client(client_id)

    async def remove(self, client_id: int, list_id: int, by: int | None = None) -> list[Row]:
        """Take a client out of a list (the list stays, even empty); the client's lists afterwards."""
        await ensure_schema(self.db)
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT name FROM client_lists WHERE id = ?", (list_id,)) as cur:
                found = await cur.fetchone()
            gone = await conn.execute(
                "DELETE FROM client_list_members WHERE list_id = ? AND client_id = ?", (list_id, client_id)
            )
            if found is None or not gone.rowcount:
                raise NotFoundError("list membership", list_id)
            await journal.write(
                conn, "change", f"Убран из списка «{found[0]}»", client_id=client_id, employee_id=by
            )
        return await self.of_client(client_id)

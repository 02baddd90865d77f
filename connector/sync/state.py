"""`StateStore` on SQLite: adapters' OAuth tokens and CRM-side ids, durable and atomic.

Each `set` is its own committed transaction in the outbox file (synchronous=FULL by default), so
when it returns a refreshed single-use token survives a crash or a power cut.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.sync.database import Database


class SqliteState:
    """One adapter's durable key → JSON value store (implements `connector.crm.StateStore`)."""

    def __init__(self, db: Database, adapter: str, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.adapter = adapter
        self.clock = clock

    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""
        rows = await self.db.fetch(
            "SELECT value FROM adapter_state WHERE adapter = ? AND key = ?", (self.adapter, key)
        )
        return json.loads(rows[0][0]) if rows else None

    async def set(self, key: str, value: Any) -> None:
        """Store `value` (JSON-serialisable); committed when this returns."""
        text = json.dumps(value, ensure_ascii=False)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO adapter_state (adapter, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (adapter, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (self.adapter, key, text, self.clock()),
            )

    async def delete(self, key: str) -> None:
        """Forget `key`."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM adapter_state WHERE adapter = ? AND key = ?", (self.adapter, key))

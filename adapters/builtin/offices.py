"""Many PBXs, one CRM: calls delivered by the connectors of other offices, and their tokens.

A remote office runs its own connector with the `webhook` adapter pointed at this CRM's
`POST /api/crm/ingest` and `token:` set to the token an admin issued here for that office. The
token says which office the delivery is from (a body cannot claim another office), and only its
SHA-256 is stored: tokens are 32 random bytes, so a fast hash is as good as a slow one.

Deliveries are idempotent: a call is filed under `<office>:<call id>` (two PBXs may well produce
the same Asterisk id) and a redelivery updates the same row, counters included. Live events are
handed to this CRM's screen pop with their office. Recording links are not kept (they point at
the other office's connector and expire).
"""

from __future__ import annotations

import hashlib
import secrets

from adapters.builtin.db import Database, NotFoundError, Row, now_iso
from adapters.builtin.validate import invalid
from connector.config import PBX_ID

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ingest_tokens ("
    " id INTEGER PRIMARY KEY, pbx TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL, last_used_at TEXT)"
)
MAX_TOKENS = 200  # offices per CRM: the table stays bounded


def digest(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def ensure_schema(db: Database) -> None:
    """Create the token table (idempotent; the store calls it when it opens)."""
    await db.write(SCHEMA)


class IngestTokens:
    """One token per remote office; shown once when issued."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(self, pbx: str) -> Row:
        """A new token for office `pbx` (replaces its old one): {id, pbx, token, created_at}."""
        if not PBX_ID.fullmatch(pbx):
            raise invalid("pbx", "1-32 letters, digits, '.', '_' or '-'")
        if await self.db.scalar("SELECT COUNT(*) FROM ingest_tokens") >= MAX_TOKENS:
            raise invalid("pbx", f"at most {MAX_TOKENS} offices")
        token = secrets.token_urlsafe(32)
        stamp = now_iso()
        await self.db.write(
            "INSERT INTO ingest_tokens (pbx, token_hash, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (pbx) DO UPDATE SET token_hash = excluded.token_hash,"
            " created_at = excluded.created_at, last_used_at = NULL",
            (pbx, digest(token), stamp),
        )
        row = await self.db.fetch_one("SELECT id FROM ingest_tokens WHERE pbx = ?", (pbx,))
        assert row is not None
        return {"id": row["id"], "pbx": pbx, "token": token, "created_at": stamp}

    async def office_of(self, token: str) -> str | None:
        """The office a token was issued for, or None."""
        row = await self.db.fetch_one("SELECT pbx FROM ingest_tokens WHERE token_hash = ?", (digest(token),))
        return str(row["pbx"]) if row else None

    async def list(self) -> list[Row]:
        """Every office's token record (never the token)."""
        return await self.db.fetch_all(
            "SELECT id, pbx, created_at, last_used_at FROM ingest_tokens ORDER BY pbx"
        )

    async def revoke(self, token_id: int) -> None:
        """Delete a token: that office's deliveries get 401 until a new one is issued."""
        if not await self.db.scalar("SELECT 1 FROM ingest_tokens WHERE id = ?", (token_id,)):
            raise NotFoundError("ingest token", token_id)
        await self.db.write("DELETE FROM ingest_tokens WHERE id = ?", (token_id,))


async def offices(db: Database) -> list[str]:
    """Every office with filed calls (from the monthly counters: a few rows, not every call)."""
    rows = await db.fetch_all("SELECT DISTINCT pbx FROM rollup_lines WHERE span = 'm' ORDER BY pbx")
    return [r["pbx"] for r in rows]

"""One search over clients and companies: names, e-mails, INN, and phone numbers typed any way.

People type numbers as `89161234567`, `+7 916 123-45-67` or just `916 123`; the store keeps
E.164 (`+79161234567`). A query's digits are therefore matched as a fragment of the stored
digits, with a leading national `8` of a full number read as `7`. Names are matched without
regard to case or to `ё`/`е`: SQLite's own LIKE folds ASCII only, so each client keeps a folded
`search` text, filled lazily (by whatever wrote the row: the API, the importer, a migration).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.builtin.db import Database, Row

_NOT_DIGITS = re.compile(r"\D+")
MIN_DIGITS = 3  # fewer digits than this in a query are not treated as a phone fragment


def fold(text: str | None) -> str:
    """Lower case, `ё` as `е`, single spaces; never empty (marks the row as indexed)."""
    folded = " ".join(str(text or "").lower().replace("ё", "е").split())
    return f" {folded} "


def phone_fragment(query: str) -> str | None:
    """The digits of a query as they appear in a stored E.164 number, or None if too few.

    `89161234567` → `79161234567`; `+7 916 123-45-67` → `79161234567`; `916 123` → `916123`.
    """
    digits = _NOT_DIGITS.sub("", query)
    if len(digits) < MIN_DIGITS:
        return None
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


def client_condition(query: str, alias: str = "c") -> tuple[str, list[Any]]:
    """A WHERE fragment matching clients by name, e-mail or phone fragment, and its parameters."""
    words = fold(query).split()
    parts: list[str] = []
    params: list[Any] = []
    if words:
        parts.append(" AND ".join(f"{alias}.search LIKE ?" for _ in words))
        params += [f"%{w}%" for w in words]
    digits = phone_fragment(query)
    if digits:
        parts.append(f"EXISTS (SELECT 1 FROM phones p WHERE p.client_id = {alias}.id AND p.phone LIKE ?)")
        params.append(f"%{digits}%")
    if not parts:
        return "1 = 1", []
    return "(" + " OR ".join(f"({p})" for p in parts) + ")", params


async def refresh_index(db: Database) -> None:
    """Fold the names and e-mails of clients written since the last search (cheap when none)."""
    stale = await db.fetch_all(
        "SELECT c.id, c.name, c.email, (SELECT group_concat(e.email, ' ') FROM client_emails e"
        " WHERE e.client_id = c.id) AS more FROM clients c WHERE c.search = '' LIMIT 50000"
    )
    if not stale:
        return
    rows = [(fold(f"{r['name']} {r['email']} {r['more'] or ''}"), r["id"]) for r in stale]
    async with db.transaction() as conn:
        await conn.executemany("UPDATE clients SET search = ? WHERE id = ?", rows)


async def search(db: Database, query: str, *, limit: int = 8) -> dict[str, list[Row]]:
    """Clients and companies matching `query`, best first (exact phone matches, then recent)."""
    query = query.strip()
    if not query:
        return {"clients": [], "companies": []}
    await refresh_index(db)
    cond, params = client_condition(query)
    clients = await db.fetch_all(
        "SELECT c.id, c.kind, c.name, c.email, c.company_id, co.name AS company_name,"
        " (SELECT group_concat(p.phone, ',') FROM phones p WHERE p.client_id = c.id) AS phone_list"
        f" FROM clients c LEFT JOIN companies co ON co.id = c.company_id WHERE {cond}"
        " ORDER BY c.kind = 'contact', c.updated_at DESC LIMIT ?",
        [*params, limit],
    )
    for row in clients:
        row["phones"] = [p for p in (row.pop("phone_list") or "").split(",") if p]
    like, folded = f"%{query}%", f"%{fold(query).strip()}%"
    companies = await db.fetch_all(
        "SELECT id, name, inn FROM companies WHERE inn LIKE ? OR fold(name) LIKE ? ORDER BY name LIMIT ?",
        (like, folded, limit),
    )
    return {"clients": clients, "companies": companies}

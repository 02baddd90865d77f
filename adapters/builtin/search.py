"""One search over clients and companies: names, e-mails, INN, and phone numbers typed any way.

People type numbers as `89161234567`, `+7 916 123-45-67` or just `916 123`; the store keeps
E.164 (`+79161234567`). A query's digits are therefore matched as a fragment of the stored
digits, with a leading national `8` of a full number read as `7`. Names are matched without
regard to case or to `ё`/`е`: SQLite's own LIKE folds ASCII only, so each client keeps a folded
`search` text, filled lazily (by whatever wrote the row: the API, the importer, a migration).

Both are substring matches (`LIKE '%…%'`), which no B-tree index serves: on SQLite a trigram
index (FTS5, `schema_search_sqlite.sql`, created by `ensure_index`) answers them; on PostgreSQL
the same LIKE on the base columns is served by pg_trgm GIN indexes (see that file), so the
conditions below name the index tables only when `db.dialect` is SQLite's.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from adapters.builtin.db import Database, Row

_NOT_DIGITS = re.compile(r"\D+")
MIN_DIGITS = 3  # fewer digits than this in a query are not treated as a phone fragment
TRIGRAM = 3  # characters a word needs for the trigram index to find it


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


def indexed(db: Database) -> bool:
    """Whether the SQLite trigram tables serve the substring matches (else plain LIKE, which
    PostgreSQL serves from its pg_trgm indexes)."""
    return getattr(db, "dialect", "sqlite") == "sqlite"


def names_matching(words: list[str], *, fts: bool) -> tuple[str, list[Any]]:
    """A subquery of the ids of clients whose folded `search` holds every word, and its parameters.

    Only words of 3+ characters go to the trigram index (shorter ones have no trigram; and
    SQLite 3.40's FTS5 crashes on a short LIKE beside another in one query): they are checked
    on the rows the index found.
    """
    long = [w for w in words if len(w) >= TRIGRAM]
    short = [w for w in words if len(w) < TRIGRAM]
    if not (fts and long):
        likes = " AND ".join("s.search LIKE ?" for _ in words)
        return f"SELECT s.id FROM clients s WHERE {likes}", [f"%{w}%" for w in words]
    found = " AND ".join("search LIKE ?" for _ in long)
    sql = f"SELECT rowid FROM clients_search_fts WHERE {found}"
    if short:
        sql = f"SELECT s.id FROM clients s WHERE s.id IN ({sql})" + " AND s.search LIKE ?" * len(short)
    return sql, [f"%{w}%" for w in long + short]


def phones_matching(digits: str, *, fts: bool) -> tuple[str, list[Any]]:
    """A subquery of the client ids having a phone that holds the digit fragment, and its parameter."""
    if fts:
        return (
            "SELECT p.client_id FROM phones p"
            " WHERE p.rowid IN (SELECT rowid FROM phones_fts WHERE phone LIKE ?)",
            [f"%{digits}%"],
        )
    return "SELECT p.client_id FROM phones p WHERE p.phone LIKE ?", [f"%{digits}%"]


def client_condition(query: str, alias: str = "c", *, fts: bool = False) -> tuple[str, list[Any]]:
    """A WHERE fragment matching clients by name, e-mail or phone fragment, and its parameters."""
    words = fold(query).split()
    parts: list[str] = []
    params: list[Any] = []
    if words:
        sub, more = names_matching(words, fts=fts)
        parts.append(f"{alias}.id IN ({sub})")
        params += more
    digits = phone_fragment(query)
    if digits:
        sub, more = phones_matching(digits, fts=fts)
        parts.append(f"{alias}.id IN ({sub})")
        params += more
    if not parts:
        return "1 = 1", []
    return "(" + " OR ".join(f"({p})" for p in parts) + ")", params


async def ensure_index(db: Database) -> bool:
    """Create the SQLite trigram tables once (filled from the existing rows when new); whether
    they serve the search on this database."""
    if not indexed(db):
        return False
    if getattr(db, "_search_index_ready", False):
        return True
    exists = await db.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'clients_search_fts'")
    ddl = resources.files("adapters.builtin").joinpath("schema_search_sqlite.sql").read_text("utf-8")
    async with db.transaction() as conn:
        for statement in _statements(ddl):
            await conn.execute(statement)
        if not exists:
            await conn.execute("INSERT INTO clients_search_fts(clients_search_fts) VALUES ('rebuild')")
            await conn.execute("INSERT INTO phones_fts(phones_fts) VALUES ('rebuild')")
    db._search_index_ready = True  # type: ignore[attr-defined]
    return True


def _statements(ddl: str) -> list[str]:
    """The DDL's statements (triggers hold `;` inside BEGIN … END)."""
    lines = [line for line in ddl.splitlines() if not line.lstrip().startswith("--")]
    out: list[str] = []
    current: list[str] = []
    for line in lines:
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and (
            not text.upper().startswith("CREATE TRIGGER") or text.upper().endswith("END;")
        ):
            out.append(text)
            current = []
    return out


async def refresh_index(db: Database) -> None:
    """Fold the names and e-mails of clients written since the last search (cheap when none)."""
    await ensure_index(db)
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
    cond, params = client_condition(query, fts=indexed(db))
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

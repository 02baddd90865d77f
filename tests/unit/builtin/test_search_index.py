"""The search's substring matches are served by an index (issue 18: p95 0.3–7 s at 100k clients).

Speed itself is measured in bench/workspace.py; here: the query plan reads the trigram index,
not every client or phone, and the index follows every write (new, renamed, deleted clients,
phones added and removed, rows that existed before the index did).
"""

from __future__ import annotations

import pytest

from adapters.builtin import search
from adapters.builtin.callstore import CallFilter
from adapters.builtin.store import Store

# SQLite's query plans (EXPLAIN QUERY PLAN): these two read the SQLite back end only.
SQLITE_PLAN = pytest.mark.parametrize("crm_target", ["sqlite"], indirect=True)


async def plan(store: Store, sql: str, params: list[object]) -> str:
    rows = await store.db.fetch_all(f"EXPLAIN QUERY PLAN {sql}", params)
    return " | ".join(str(r["detail"]) for r in rows)


async def names(store: Store, query: str) -> list[str]:
    return sorted(c["name"] for c in (await search.search(store.db, query))["clients"])


@SQLITE_PLAN
async def test_a_name_or_phone_fragment_is_looked_up_in_the_index_not_scanned(store: Store) -> None:
    await store.clients.create("Иван Петров", ["+79161234567"])
    await search.refresh_index(store.db)
    for query in ("петров", "916 123"):
        cond, params = search.client_condition(query, fts=search.indexed(store.db))
        detail = await plan(store, f"SELECT c.id FROM clients c WHERE {cond}", params)
        assert "VIRTUAL TABLE INDEX" in detail, detail
        scans = {step for step in detail.split(" | ") if step in ("SCAN c", "SCAN s", "SCAN p")}
        assert scans == set(), detail  # no walk over every client or phone


@SQLITE_PLAN
async def test_the_calls_list_filter_uses_the_index_too(store: Store) -> None:
    await store.clients.create("Иван Петров", ["+79161234567"])
    for query in ("петров", "916 123"):
        await store.calls.list(CallFilter(q=query), limit=25, offset=0)  # builds the index
        detail = await plan(
            store,
            "SELECT c.id FROM calls c WHERE c.client_id IN "
            + search.names_matching(["петров"], fts=True)[0].join("()"),
            ["%петров%"],
        )
        assert "VIRTUAL TABLE INDEX" in detail, detail


async def test_the_index_follows_renames_deletes_and_phones(store: Store) -> None:
    first = await store.clients.create("Иван Петров", ["+79161234567"])
    await store.clients.create("Мария Иванова", ["+79267770011"])
    assert await names(store, "петров") == ["Иван Петров"]
    await store.clients.update(first, {"name": "Иван Сидоров"})
    assert (await names(store, "петров"), await names(store, "сидоров")) == ([], ["Иван Сидоров"])
    await store.clients.add_phone(first, "+79035550101")
    assert await names(store, "903 555") == ["Иван Сидоров"]
    await store.clients.remove_phone(first, "+79035550101")
    assert await names(store, "903 555") == []
    await store.db.write("DELETE FROM clients WHERE id = ?", (first,))  # as a merge of cards does
    assert (await names(store, "сидоров"), await names(store, "916 123")) == ([], [])
    assert await names(store, "ивано") == ["Мария Иванова"]


async def test_rows_written_before_the_index_existed_are_found(store: Store) -> None:
    await store.db.write(
        "INSERT INTO clients (kind, name, email, created_at, updated_at)"
        " VALUES ('client', 'Ёлкин Пётр', '', 'x', 'x')"
    )
    await store.db.write("DROP TABLE IF EXISTS clients_search_fts")
    store.db._search_index_ready = False  # type: ignore[attr-defined]  # as on an old database
    assert await names(store, "елкин") == ["Ёлкин Пётр"]


async def test_short_words_beside_long_ones_are_matched_on_the_rows_found(store: Store) -> None:
    """'+7 916 123-45-67' folds to words of 2 and more characters; SQLite 3.40's FTS5 crashed
    on a short LIKE beside a long one, and a short word has no trigram to look up."""
    await store.clients.create("Ян Петров", ["+79161234567"])
    await store.clients.create("Иван Петров", ["+79267770011"])
    assert await names(store, "ян петров") == ["Ян Петров"]
    assert await names(store, "+7 916 123-45-67") == ["Ян Петров"]

"""Exporting clients as CSV: all, a range, a list; admins only."""

from __future__ import annotations

import csv
import io

from tests.unit.analytics.conftest import Server


async def export(server: Server, ext: str = "200", **params: str) -> tuple[int, list[dict[str, str]]]:
    async with server.http.get(server.url + "/api/crm/export", params=params, headers=server.auth(ext)) as r:
        if r.status != 200:
            return r.status, []
        text = (await r.read()).decode("utf-8-sig")
    return 200, list(csv.DictReader(io.StringIO(text)))


async def fill_clients(server: Server, count: int) -> None:
    for n in range(1, count + 1):
        await server.store.clients.create(f"Клиент {n}", [f"+7916000{n:04d}"])


async def test_export_all_gives_every_client_with_phones(empty: Server) -> None:
    await fill_clients(empty, 3)
    await empty.store.clients.ensure_contact("+79169999999")  # a contact card is not a client
    status, rows = await export(empty)
    assert (status, [r["name"] for r in rows]) == (200, ["Клиент 1", "Клиент 2", "Клиент 3"])
    assert rows[0]["phones"] == "+79160000001"


async def test_export_a_range_gives_count_clients_from_the_start(empty: Server) -> None:
    await fill_clients(empty, 5)
    _, rows = await export(empty, start="2", count="3")
    assert [r["name"] for r in rows] == ["Клиент 2", "Клиент 3", "Клиент 4"]


async def test_a_manager_may_not_export(empty: Server) -> None:
    status, _ = await export(empty, ext="201")
    assert status == 403


async def test_a_cell_that_looks_like_a_formula_is_exported_as_text(empty: Server) -> None:
    await empty.store.clients.create("=HYPERLINK(1)", ["+79160000001"])
    _, rows = await export(empty)
    assert (rows[0]["name"], rows[0]["phones"]) == ("'=HYPERLINK(1)", "+79160000001")

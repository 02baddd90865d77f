"""Custom fields on the client, company, deal and task cards, the super-filter and the list's columns
(seed 003)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from adapters.builtin.db import INTEGRITY_ERRORS, Target
from adapters.builtin.store import Store
from tests.unit.builtin.helpers import CrmServer


async def _call(
    http: aiohttp.ClientSession,
    server: CrmServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    ext: str = "200",
) -> tuple[int, Any]:
    """As the admin at 200 unless `ext` says otherwise."""
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def _fields(http: aiohttp.ClientSession, server: CrmServer) -> dict[str, int]:
    """The six kinds on the client card; their ids by label."""
    ids = {}
    for label, kind, options in (
        ("Договор", "text", None),
        ("Бюджет", "number", None),
        ("Продление", "date", None),
        ("Источник", "list", ["Сайт", "Звонок"]),
        ("Доп. телефон", "phone", None),
        ("Бухгалтерия", "email", None),
    ):
        body = {"entity": "client", "label": label, "kind": kind, **({"options": options} if options else {})}
        status, made = await _call(http, server, "POST", "/fields", body)
        assert status == 201, made
        ids[label] = made["id"]
    return ids


async def test_values_are_checked_by_kind_stored_and_journalled_with_who(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    ids = await _fields(http, server)
    status, _ = await _call(
        http, server, "POST", "/fields", {"entity": "client", "label": "Своё", "kind": "text"}, ext="201"
    )
    assert status == 403  # admins shape the cards
    client = await server.store.clients.create("Ромашка", ["+79160000041"])
    bad = {
        "Бюджет": "много",
        "Продление": "31.12.2027",
        "Источник": "Реклама",
        "Доп. телефон": "звоните",
        "Бухгалтерия": "buh@",
    }
    for label, value in bad.items():
        status, problem = await _call(
            http, server, "PUT", f"/clients/{client}/fields", {"values": {ids[label]: value}}
        )
        assert (status, problem["errors"][0]["field"]) == (422, str(ids[label])), label
    good = {
        ids["Договор"]: "№ 17/2026",
        ids["Бюджет"]: "1 500 000,50",
        ids["Продление"]: "2027-12-31",
        ids["Источник"]: "Сайт",
        ids["Доп. телефон"]: "8 (916) 000-00-42",
        ids["Бухгалтерия"]: "Buh@Romashka.ru",
    }
    status, saved = await _call(http, server, "PUT", f"/clients/{client}/fields", {"values": good}, ext="202")
    assert status == 200
    assert [(f["label"], f["value"]) for f in saved["items"]] == [
        ("Договор", "№ 17/2026"),
        ("Бюджет", "1500000.5"),
        ("Продление", "2027-12-31"),
        ("Источник", "Сайт"),
        ("Доп. телефон", "+79160000042"),
        ("Бухгалтерия", "buh@romashka.ru"),
    ]
    status, cleared = await _call(
        http, server, "PUT", f"/clients/{client}/fields", {"values": {ids["Договор"]: None}}
    )
    assert cleared["items"][0]["value"] == ""
    _, feed = await _call(http, server, "GET", f"/clients/{client}/feed?kind=change")
    changes = [(i["text"], i["who"]) for i in feed["items"]]
    assert ("Бюджет: — → 1500000.5", "Егор Сотрудник") in changes
    assert ("Договор: № 17/2026 → —", "Анна Админ") in changes


async def test_the_super_filter_combines_conditions_on_any_field(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    ids = await _fields(http, server)
    budget, source = f"f{ids['Бюджет']}", f"f{ids['Источник']}"
    for name, values in (
        ("Иванов", {ids["Бюджет"]: 50000, ids["Источник"]: "Сайт"}),
        ("Иванова", {ids["Бюджет"]: 150000, ids["Источник"]: "Сайт"}),
        ("Петров", {ids["Бюджет"]: 900000, ids["Источник"]: "Звонок"}),
        ("Сидоров", {}),
    ):
        client = await server.store.clients.create(name, [])
        await server.store.custom.set_values("client", {"id": client}, values)

    async def names(conditions: list[dict[str, Any]]) -> list[str]:
        status, data = await _call(http, server, "GET", f"/clients?filter={quote(json.dumps(conditions))}")
        assert status == 200, data
        return sorted(c["name"] for c in data["items"])

    assert await names([{"field": budget, "op": "gt", "value": 100000}]) == ["Иванова", "Петров"]
    assert await names([{"field": budget, "op": "lt", "value": "100 000"}]) == [
        "Иванов"
    ]  # as numbers, not text
    assert await names(
        [{"field": source, "op": "eq", "value": "Сайт"}, {"field": "name", "op": "contains", "value": "ова"}]
    ) == ["Иванова"]
    assert await names([{"field": source, "op": "empty"}]) == ["Сидоров"]
    assert await names([{"field": source, "op": "ne", "value": "Сайт"}]) == ["Петров", "Сидоров"]
    assert await names([{"field": "name", "op": "eq", "value": "x' OR 1=1 --"}]) == []
    for wrong in (
        [{"field": budget, "op": "like", "value": 1}],
        [{"field": "f999", "op": "eq", "value": 1}],
        [{"field": "name", "op": "eq"}],
        [{"field": "password_hash", "op": "filled"}],
    ):
        status, problem = await _call(http, server, "GET", f"/clients?filter={quote(json.dumps(wrong))}")
        assert (status, problem["errors"][0]["field"]) == (422, "filter"), wrong
    status, _ = await _call(http, server, "GET", "/clients?filter=%7Bnot-json")
    assert status == 422


async def test_the_list_shows_the_columns_the_admin_chose(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    ids = await _fields(http, server)
    client = await server.store.clients.create("Ромашка", [])
    await server.store.custom.set_values("client", {"id": client}, {ids["Договор"]: "№ 5"})
    columns = ["phones", f"f{ids['Договор']}", "company"]
    status, saved = await _call(http, server, "PATCH", "/settings", {"client_columns": columns})
    assert status == 200 and saved["client_columns"] == columns
    status, _ = await _call(
        http, server, "PATCH", "/settings", {"client_columns": ["phones"] * 1 + [f"f{n}" for n in range(6)]}
    )
    assert status == 422  # at most six
    status, _ = await _call(http, server, "PATCH", "/settings", {"client_columns": ["password"]})
    assert status == 422
    _, page = await _call(
        http, server, "GET", f"/clients?fields=f{ids['Договор']},f{ids['Бюджет']}", ext="202"
    )
    assert page["items"][0]["custom"] == {f"f{ids['Договор']}": "№ 5", f"f{ids['Бюджет']}": ""}


async def test_fields_are_hidden_reordered_and_deleted_with_their_values(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    ids = await _fields(http, server)
    client = await server.store.clients.create("Ромашка", [])
    await server.store.custom.set_values("client", {"id": client}, {ids["Бюджет"]: 10, ids["Договор"]: "№ 1"})
    await _call(http, server, "PATCH", f"/fields/{ids['Продление']}", {"hidden": True})
    status, _ = await _call(http, server, "PATCH", f"/fields/{ids['Бухгалтерия']}", {"position": 0})
    assert status == 200
    _, card = await _call(http, server, "GET", f"/clients/{client}/fields")
    assert [f["label"] for f in card["items"]] == [
        "Бухгалтерия",
        "Договор",
        "Бюджет",
        "Источник",
        "Доп. телефон",
    ]
    status, _ = await _call(
        http, server, "POST", "/fields", {"entity": "client", "label": "Договор", "kind": "text"}
    )
    assert status == 422  # labels are unique on a card
    assert (await _call(http, server, "DELETE", f"/fields/{ids['Бюджет']}"))[0] == 204
    remaining = await server.store.db.scalar(
        "SELECT COUNT(*) FROM custom_values WHERE field_id = ?", (ids["Бюджет"],)
    )
    assert remaining == 0


async def test_a_deals_fields_follow_the_deals_rights_and_history(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, made = await _call(
        http, server, "POST", "/fields", {"entity": "deal", "label": "Маржа", "kind": "number"}
    )
    assert status == 201
    eva = await server.store.employees.by_extension("203")
    assert eva is not None
    pipeline = (await server.store.deals.pipelines())[0]
    deal = await server.store.deals.create(
        {"title": "Лето", "pipeline_id": pipeline["id"], "responsible_id": eva["id"]}
    )
    body = {"values": {made["id"]: 12.5}}
    assert (await _call(http, server, "PUT", f"/deals/{deal['id']}/fields", body, ext="202"))[0] == 403
    status, saved = await _call(http, server, "PUT", f"/deals/{deal['id']}/fields", body, ext="203")
    assert status == 200 and saved["items"][0]["value"] == "12.5"
    _, card = await _call(http, server, "GET", f"/deals/{deal['id']}", ext="203")
    assert card["history"][-1]["text"] == "Сделка «Лето», маржа: — → 12.5"
    _, company_field = await _call(
        http, server, "POST", "/fields", {"entity": "company", "label": "КПП", "kind": "text"}
    )
    company = await server.store.companies.create("ООО «Лето»", "7701234567")
    status, saved = await _call(
        http,
        server,
        "PUT",
        f"/companies/{company}/fields",
        {"values": {company_field["id"]: "770101001"}},
        ext="202",
    )
    assert status == 200 and saved["items"][0]["value"] == "770101001"


async def test_a_tasks_fields_are_filled_by_who_it_concerns(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, made = await _call(
        http, server, "POST", "/fields", {"entity": "task", "label": "Вид работ", "kind": "list",
                                           "options": ["Монтаж", "Доставка"]},
    )  # fmt: skip
    assert status == 201, made
    assert [f["label"] for f in (await _call(http, server, "GET", "/fields?entity=task"))[1]["items"]] == [
        "Вид работ"
    ]
    egor = await server.store.employees.by_extension("202")
    assert egor is not None
    task = await server.store.notes.add_task({"title": "Привезти котёл", "assignee_id": egor["id"]}, None)
    path = f"/tasks/{task['id']}/fields"
    assert (await _call(http, server, "PUT", path, {"values": {made["id"]: "Доставка"}}, ext="203"))[0] == 403
    status, refused = await _call(http, server, "PUT", path, {"values": {made["id"]: "Уборка"}}, ext="202")
    assert status == 422 and "options" in json.dumps(refused, ensure_ascii=False)
    status, saved = await _call(http, server, "PUT", path, {"values": {made["id"]: "Доставка"}}, ext="202")
    assert status == 200 and saved["items"] == [
        {**saved["items"][0], "label": "Вид работ", "value": "Доставка"}
    ]
    _, shown = await _call(http, server, "GET", path, ext="202")
    assert [(f["label"], f["value"]) for f in shown["items"]] == [("Вид работ", "Доставка")]
    assert (await _call(http, server, "GET", "/tasks/999999/fields", ext="202"))[0] == 404


async def test_a_database_made_before_tasks_and_files_had_fields_upgrades_with_its_values(
    crm_target: Target,
) -> None:
    store = await Store.open(crm_target)
    client = await store.clients.create("Ольга", [])
    kept = await store.custom.define("client", "Договор", "text")
    await store.custom.set_values("client", await store.clients.get(client), {kept["id"]: "Д-17"})
    await store.close()
    await _narrow_entities(crm_target)  # as the previous version made the table

    store = await Store.open(crm_target)
    try:
        made = await store.custom.define("task", "Вид работ", "text")
        assert (await store.custom.define("deal", "Договор", "file"))["kind"] == "file"
        assert made["entity"] == "task"
        assert [(f["label"], f["value"]) for f in await store.custom.of_record("client", client)] == [
            ("Договор", "Д-17")
        ]
        await store.custom.remove(kept["id"])  # the values still follow their field (foreign key kept)
        assert await store.db.scalar("SELECT COUNT(*) FROM custom_values") == 0
        with pytest.raises(INTEGRITY_ERRORS):  # and the check still checks
            await store.db.write(
                "INSERT INTO custom_fields (entity, label, kind, created_at)"
                " VALUES ('call', 'x', 'text', 'x')"
            )
    finally:
        await store.close()


async def _narrow_entities(target: Target) -> None:
    """custom_fields' CHECKs without 'task' and 'file', as the versions before made them."""
    if isinstance(target, Path):
        with sqlite3.connect(target) as raw:
            raw.execute("PRAGMA writable_schema=ON")
            raw.execute(
                "UPDATE sqlite_master SET sql = replace(replace(sql, ', ''task''', ''), ', ''file''', '')"
                " WHERE name = 'custom_fields'"
            )
        return
    store = await Store.open(target)
    try:
        await store.db.write(
            "ALTER TABLE custom_fields DROP CONSTRAINT custom_fields_entity_check, ADD CONSTRAINT"
            " custom_fields_entity_check CHECK (entity IN ('client', 'company', 'deal')),"
            " DROP CONSTRAINT custom_fields_kind_check, ADD CONSTRAINT custom_fields_kind_check"
            " CHECK (kind IN ('text', 'number', 'date', 'list', 'phone', 'email'))"
        )
    finally:
        await store.close()


async def test_a_file_field_keeps_the_file_serves_it_as_a_download_and_follows_the_cards_rights(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    _, field = await _call(
        http, server, "POST", "/fields", {"entity": "deal", "label": "Договор", "kind": "file"}
    )
    eva = await server.store.employees.by_extension("203")
    assert eva is not None
    pipeline = (await server.store.deals.pipelines())[0]
    deal = await server.store.deals.create(
        {"title": "Котельная", "pipeline_id": pipeline["id"], "responsible_id": eva["id"]}
    )
    url = f"{server.url}/api/crm/deals/{deal['id']}/fields/{field['id']}/file"
    body = b"%PDF-1.4 " + bytes(range(256)) * 4096  # about 1 MB: past the JSON limit, under the file one
    headers = {**server.headers("203"), "Content-Type": "application/octet-stream"}
    name = quote("Договор №7 <script>.pdf")
    async with http.put(f"{url}?name={name}", data=body, headers=headers) as r:
        assert r.status == 200  # Ева's deal
    others = {**server.headers("202"), "Content-Type": "application/octet-stream"}
    async with http.put(f"{url}?name={name}", data=body, headers=others) as r:
        assert r.status == 403  # Егор's token: not his deal
    async with http.get(url, headers=server.headers("203")) as r:
        assert r.status == 200 and await r.read() == body
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    _, shown = await _call(http, server, "GET", f"/deals/{deal['id']}/fields", ext="203")
    [value] = [f["value"] for f in shown["items"] if f["id"] == field["id"]]
    assert value.startswith("Договор №7") and value.endswith(".pdf") and "/" not in value
    _, card = await _call(http, server, "GET", f"/deals/{deal['id']}", ext="203")
    assert card["history"][-1]["text"].startswith("Сделка «Котельная», договор: — → Договор №7")
    status, refused = await _call(
        http, server, "PUT", f"/deals/{deal['id']}/fields", {"values": {field["id"]: "x.pdf"}}, ext="203"
    )
    assert status == 422, refused  # a file comes as a file
    too_big = b"x" * (10 * 2**20 + 1)
    async with http.put(f"{url}?name=big.bin", data=too_big, headers=headers) as r:
        assert r.status == 413
    await _call(
        http, server, "PUT", f"/deals/{deal['id']}/fields", {"values": {field["id"]: None}}, ext="203"
    )
    async with http.get(url, headers=server.headers("203")) as r:
        assert r.status == 404
    _, text_field = await _call(
        http, server, "POST", "/fields", {"entity": "deal", "label": "Адрес", "kind": "text"}
    )
    async with http.put(f"{server.url}/api/crm/deals/{deal['id']}/fields/{text_field['id']}/file", data=b"x",
                        headers=headers) as r:  # fmt: skip
        assert r.status == 422

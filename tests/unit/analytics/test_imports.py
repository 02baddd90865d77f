"""Importing clients from CSV and XLSX: mapping, joined columns, list name, dry run, limits, undo."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import aiohttp

from tests.unit.analytics.conftest import Server

CSV = (
    "Имя;Фамилия;Телефон;Почта;Компания;Менеджер\n"
    "Иван;Петров;8 916 000-00-11;ivan@example.ru;Ромашка;202\n"
    "Анна;Смирнова;+7 916 000-00-12;;Ромашка;\n"
    ";;+79160000013;;;\n"
    "Олег;;+79160000011;;;\n"
    "Пётр;Сидоров;+79160000014;pyotr-at-example;;\n"
    "Вера;;+79160000015;;;999\n"
)
MAPPING = {"Имя": "name", "Фамилия": "name", "Телефон": "phone", "Почта": "email", "Компания": "company",
           "Менеджер": "responsible"}  # fmt: skip


def form(
    data: bytes, filename: str = "clients.csv", mapping: dict[str, str] | None = None, **extra: str
) -> Any:
    body = aiohttp.FormData()
    body.add_field("file", data, filename=filename, content_type="application/octet-stream")
    body.add_field("mapping", json.dumps(mapping if mapping is not None else MAPPING))
    for name, value in extra.items():
        body.add_field(name, value)
    return body


async def post(
    server: Server, data: Any, path: str = "/api/crm/imports", ext: str = "201"
) -> tuple[int, Any]:
    async with server.http.post(server.url + path, data=data, headers=server.auth(ext)) as response:
        return response.status, await response.json()


def xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.create_sheet("Второй").append(["не читается"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_the_preview_shows_the_headers_and_sample_rows(empty: Server) -> None:
    status, body = await post(empty, form(CSV.encode()), "/api/crm/imports/preview")
    assert (status, body["headers"][:3], body["rows"]) == (200, ["Имя", "Фамилия", "Телефон"], 6)
    assert body["sample"][0][:2] == ["Иван", "Петров"]


async def test_a_dry_run_reports_each_bad_row_and_writes_nothing(empty: Server) -> None:
    status, body = await post(empty, form(CSV.encode(), dry_run="1"))
    assert (status, body["created"], body["dry_run"]) == (200, 2, True)
    assert [e["row"] for e in body["errors"]] == [4, 5, 6, 7]  # no name, number twice, e-mail, extension
    clients = await empty.get("/api/crm/clients", kind="client")
    assert clients["total"] == 0


async def test_two_columns_mapped_to_the_name_are_joined_with_a_space(empty: Server) -> None:
    await post(empty, form(CSV.encode()))
    clients = await empty.get("/api/crm/clients", kind="client", q="Петров")
    assert clients["items"][0]["name"] == "Иван Петров"


async def test_imported_fields_land_on_the_card(empty: Server) -> None:
    await post(empty, form(CSV.encode()))
    ivan = (await empty.get("/api/crm/clients", q="Иван"))["items"][0]
    picked = (ivan["phones"], ivan["email"], ivan["company_name"], ivan["responsible_extension"])
    assert picked == (["+79160000011"], "ivan@example.ru", "Ромашка", "202")


async def test_an_import_creates_the_good_rows_and_skips_the_bad(empty: Server) -> None:
    status, body = await post(empty, form(CSV.encode()))
    assert (status, body["created"], body["skipped"]) == (201, 2, 4)


async def test_the_list_name_is_given_to_every_imported_client(empty: Server) -> None:
    await post(empty, form(CSV.encode(), list_name="Выставка"))
    async with empty.http.get(
        empty.url + "/api/crm/export", params={"list": "Выставка"}, headers=empty.auth("200")
    ) as r:
        lines = (await r.text()).strip().splitlines()
    assert len(lines) == 3 and all("Выставка" in line for line in lines[1:])


async def test_an_xlsx_file_is_read_from_its_first_sheet(empty: Server) -> None:
    data = xlsx([["Имя", "Телефон"], ["Ксения", 79160000021], ["Лев", "+79160000022"]])
    status, body = await post(empty, form(data, "clients.xlsx", {"Имя": "name", "Телефон": "phone"}))
    assert (status, body["created"]) == (201, 2)
    found = await empty.get("/api/crm/clients", q="Ксения")
    assert found["items"][0]["phones"] == ["+79160000021"]


async def test_a_header_row_with_a_gap_is_refused(empty: Server) -> None:
    status, body = await post(
        empty, form(b"\xd0\x98\xd0\xbc\xd1\x8f,,Phone\nA,,1\n"), "/api/crm/imports/preview"
    )
    assert status == 422 and "headers" in body["errors"][0]["message"]


async def test_more_than_5000_rows_are_refused(empty: Server) -> None:
    data = "Имя\n" + "".join(f"Клиент {n}\n" for n in range(5001))
    status, body = await post(empty, form(data.encode(), mapping={"Имя": "name"}))
    assert status == 422 and "5000" in body["errors"][0]["message"]


async def test_a_file_over_50_mb_is_refused(empty: Server) -> None:
    data = b"x" * (50 * 1024 * 1024 + 1)
    status, _ = await post(empty, form(data, mapping={"x": "name"}))
    assert status == 413


async def test_a_mapping_without_the_name_is_refused(empty: Server) -> None:
    status, body = await post(empty, form(CSV.encode(), mapping={"Телефон": "phone"}))
    assert (status, body["errors"][0]["field"]) == (422, "mapping")


async def test_an_import_takes_over_the_contact_card_of_a_known_number(empty: Server) -> None:
    card = await empty.store.clients.ensure_contact("+79160000011")
    await post(empty, form(CSV.encode()))
    ivan = (await empty.get("/api/crm/clients", q="Иван"))["items"][0]
    async with empty.http.get(f"{empty.url}/api/crm/clients/{card}", headers=empty.auth("201")) as r:
        assert r.status == 404  # merged into the imported client
    assert ivan["phones"] == ["+79160000011"]


async def test_undo_within_24_hours_removes_the_imported_clients(empty: Server) -> None:
    _, body = await post(empty, form(CSV.encode()))
    empty.clock.advance(hours=23)
    async with empty.http.delete(
        f"{empty.url}/api/crm/imports/{body['import_id']}", headers=empty.auth("201")
    ) as r:
        assert r.status == 200
    assert (await empty.get("/api/crm/clients", kind="client"))["total"] == 0


async def test_undo_after_24_hours_is_refused(empty: Server) -> None:
    _, body = await post(empty, form(CSV.encode()))
    empty.clock.advance(hours=24, seconds=1)
    async with empty.http.delete(
        f"{empty.url}/api/crm/imports/{body['import_id']}", headers=empty.auth("201")
    ) as r:
        assert r.status == 409
    assert (await empty.get("/api/crm/clients", kind="client"))["total"] == 2


async def test_undo_keeps_the_history_of_a_client_as_a_contact_card(empty: Server) -> None:
    _, body = await post(empty, form(CSV.encode()))
    ivan = (await empty.get("/api/crm/clients", q="Иван"))["items"][0]
    await empty.store.notes.add_comment(ivan["id"], "перезвонить", None)
    async with empty.http.delete(
        f"{empty.url}/api/crm/imports/{body['import_id']}", headers=empty.auth("201")
    ) as r:
        assert r.status == 200
    card = await empty.store.clients.get(ivan["id"])
    assert (card["kind"], card["name"], card["phones"]) == ("contact", "", ["+79160000011"])


async def test_an_employee_may_not_import(empty: Server) -> None:
    status, _ = await post(empty, form(CSV.encode()), ext="202")
    assert status == 403


async def test_a_damaged_xlsx_file_is_refused(empty: Server) -> None:
    status, body = await post(
        empty, form(b"PK\x03\x04 not really a zip", "clients.xlsx"), "/api/crm/imports/preview"
    )
    assert status == 422 and "XLSX" in body["errors"][0]["message"]


async def test_each_rejected_row_says_why_in_russian_quoting_the_cell_as_typed(empty: Server) -> None:
    text = CSV + "Ира;;не телефон;;;\n"
    status, body = await post(empty, form(text.encode(), dry_run="1"))
    assert (status, [(e["row"], e["message"]) for e in body["errors"]]) == (
        200,
        [
            (4, "нет имени"),
            (5, "номер +79160000011 уже есть в строке 2"),
            (6, "«pyotr-at-example» — не адрес e-mail"),
            (7, "нет сотрудника с внутренним номером 999"),
            (8, "«не телефон» — не номер телефона"),
        ],
    )


async def test_custom_fields_are_imported_checked_and_exported(empty: Server) -> None:
    budget = await empty.store.custom.define("client", "Бюджет", "number")
    source = await empty.store.custom.define("client", "Источник", "list", ["Сайт", "Звонок"])
    data = (
        "Имя;Телефон;Бюджет;Откуда\n"
        "Иван;+79160000021;1 500 000;Сайт\n"
        "Анна;+79160000022;много;Сайт\n"
        "Олег;+79160000023;;Реклама\n"
        "Вера;+79160000024;;\n"
    ).encode()
    status, preview = await post(empty, form(data), "/api/crm/imports/preview")
    assert status == 200 and preview["fields"][f"f{budget['id']}"] == "Бюджет"
    mapping = {"Имя": "name", "Телефон": "phone", "Бюджет": f"f{budget['id']}", "Откуда": f"f{source['id']}"}
    status, report = await post(empty, form(data, mapping=mapping))
    assert (status, report["created"]) == (201, 2)
    assert report["errors"] == [
        {"row": 3, "message": "Бюджет: «много» — не число"},
        {"row": 4, "message": "Источник: «Реклама» — нет такого варианта"},
    ]
    async with empty.http.get(empty.url + "/api/crm/export", headers=empty.auth("200")) as r:
        assert r.status == 200
        text = (await r.read()).decode("utf-8-sig")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(text))}
    assert (rows["Иван"]["Бюджет"], rows["Иван"]["Источник"]) == ("1500000", "Сайт")
    assert (rows["Вера"]["Бюджет"], rows["Вера"]["Источник"]) == ("", "")
    status, problem = await post(empty, form(data, mapping={"Имя": "name", "Бюджет": "f999"}))
    assert status == 422 and problem["errors"][0]["field"] == "mapping"


async def test_the_export_writes_only_the_chosen_fields_in_its_own_order(empty: Server) -> None:
    budget = await empty.store.custom.define("client", "Бюджет", "number")
    await empty.store.custom.define("client", "Источник", "text")
    data = "Имя;Телефон;Бюджет\nИван;+79160000031;1000\n".encode()
    await post(empty, form(data, mapping={"Имя": "name", "Телефон": "phone", "Бюджет": f"f{budget['id']}"}))
    wanted = f"f{budget['id']},phones,name"
    async with empty.http.get(
        empty.url + "/api/crm/export", params={"fields": wanted}, headers=empty.auth("200")
    ) as r:
        assert r.status == 200
        lines = (await r.read()).decode("utf-8-sig").splitlines()
    assert lines == ["name,phones,Бюджет", "Иван,+79160000031,1000"]
    async with empty.http.get(
        empty.url + "/api/crm/export", params={"fields": "name,password_hash"}, headers=empty.auth("200")
    ) as r:
        problem = await r.json()
    assert r.status == 422 and problem["errors"][0]["field"] == "fields"

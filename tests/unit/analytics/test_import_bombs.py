"""Import bombs: files built to expand (XLSX shared strings, a ZIP part that unpacks to gigabytes,
a DTD, one huge CSV field) get a clear 422 through the real routes, and are parsed in a capped
worker process that cannot take the daemon's memory."""

from __future__ import annotations

import io
import zipfile

import pytest

from adapters.builtin import import_worker, importer
from tests.unit.analytics.conftest import Server
from tests.unit.analytics.test_imports import CSV, form, post, xlsx


def with_part(book: bytes, name: str, content: bytes) -> bytes:
    """The XLSX `book` with part `name` replaced by `content` (deflated)."""
    source = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = content if item.filename == name else source.read(item)
            target.writestr(item.filename, data)
        if name not in source.namelist():
            target.writestr(name, content)
    return out.getvalue()


def shared_strings(count: int, text: str = "") -> bytes:
    """A shared-strings part of `count` strings (`text`, or each its own number)."""
    head = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    items = b"".join(f"<si><t>{text or n}</t></si>".encode() for n in range(count))
    return head + items + b"</sst>"


async def refused(server: Server, data: bytes, filename: str) -> str:
    status, body = await post(server, form(data, filename=filename), "/api/crm/imports/preview")
    assert status == 422, body
    return str(body)


async def test_a_csv_with_one_10_mb_field_is_a_422_not_a_500(empty: Server) -> None:
    data = CSV.encode() + b"\xd0\x98\xd0\xbc\xd1\x8f;" + b"a" * (10 * 1024 * 1024) + b";\n"
    assert f"{importer.MAX_CELL}" in await refused(empty, data, "clients.csv")


async def test_a_shared_string_part_that_unpacks_to_gigabytes_is_refused_unread(empty: Server) -> None:
    bomb = shared_strings(1, "a" * (300 * 1024 * 1024))  # 300 MB of one letter: ~300 KB deflated
    data = with_part(xlsx([["Имя"], ["Иван"]]), "xl/sharedStrings.xml", bomb)
    assert len(data) < 2 * 1024 * 1024
    assert "unpacks to" in await refused(empty, data, "clients.xlsx")


async def test_too_many_shared_strings_are_refused(empty: Server) -> None:
    data = with_part(
        xlsx([["Имя"], ["Иван"]]), "xl/sharedStrings.xml", shared_strings(importer.MAX_SHARED_STRINGS + 1)
    )
    assert "shared strings" in await refused(empty, data, "clients.xlsx")


async def test_a_part_with_a_dtd_is_refused(empty: Server) -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><sst><si><t>&lol;</t></si></sst>'
    data = with_part(xlsx([["Имя"], ["Иван"]]), "xl/sharedStrings.xml", laughs)
    assert "DTD" in await refused(empty, data, "clients.xlsx")


async def test_a_cell_past_the_limit_in_an_xlsx_is_refused(empty: Server) -> None:
    data = xlsx([["Имя"], ["И" * (importer.MAX_CELL + 1)]])
    assert "longer than" in await refused(empty, data, "clients.xlsx")


async def test_a_good_file_still_imports_through_the_worker(empty: Server) -> None:
    status, body = await post(empty, form(xlsx([["Имя", "Телефон"], ["Иван", "+79160000021"]]), "c.xlsx",
                                           {"Имя": "name", "Телефон": "phone"}))  # fmt: skip
    assert (status, body["created"]) == (201, 1)


async def test_a_worker_past_its_memory_cap_is_a_clear_refusal_and_the_daemon_goes_on() -> None:
    with pytest.raises(importer.ImportFileError, match="memory and time allowed"):
        await import_worker.read_table(CSV.encode(), "clients.csv", memory=16 * 1024 * 1024)
    table = await import_worker.read_table(CSV.encode(), "clients.csv")
    assert table.headers[0] == "Имя"

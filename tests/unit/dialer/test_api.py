"""The auto-dial list routes on a real server: lists from a pasted column, a CSV file and a
filter of clients (normalised, repeats and refused numbers counted), and the manual's rules on
who may start, stop, skip, archive and change the pause."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.control import CallControl, CallControlSettings
from tests.unit.builtin.helpers import CrmServer, crm_server
from tests.unit.dialer.test_worker import Ami

P = "/api/crm/dialer/lists"


@pytest.fixture
async def crm(tmp_path: Path) -> AsyncIterator[CrmServer]:
    async with crm_server(tmp_path, call_control=CallControl(Ami(), CallControlSettings())) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, crm: CrmServer, ext: str, method: str, path: str, *, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, crm.url + path, json=body, headers=crm.headers(ext)) as r:
        return r.status, await r.json(content_type=None)


async def test_numbers_from_a_column_a_csv_and_a_filter_are_normalised_and_counted(
    crm: CrmServer, http: aiohttp.ClientSession
) -> None:
    await crm.store.clients.create("ООО Ромашка", ["+79161112233"])
    column = "8 (916) 111-22-33\n+7 916 111 22 33\nне номер\n88091234567\n9162223344\n"
    csv = "Имя;Телефон;Город\nИван;8-916-333-44-55;Москва\nПётр;;Тула\n"
    _, from_column = await call(http, crm, "202", "POST", f"{P}/preview", body={"numbers": column})
    _, from_csv = await call(http, crm, "202", "POST", f"{P}/preview", body={"csv": csv})
    _, from_filter = await call(http, crm, "202", "POST", f"{P}/preview", body={"filter": {"q": "Ромашка"}})
    status, made = await call(
        http, crm, "202", "POST", P, body={"name": "Промоакция", "numbers": column, "pause_seconds": None}
    )
    _, got = await call(http, crm, "202", "GET", f"{P}/{made['id']}")
    counts = ("numbers", "invalid", "not_allowed", "duplicates")
    assert (
        [from_column[k] for k in counts],
        [from_csv[k] for k in counts],
        from_filter["numbers"],
        status,
        made["pause_seconds"],
        [(e["phone"], e["client_id"] is not None) for e in got["entries"]["items"]],
    ) == (
        [2, 1, 1, 1],
        [1, 1, 0, 0],  # the empty cell of Пётр is not a number
        1,
        201,
        None,
        [("+79161112233", True), ("+79162223344", False)],
    )


async def test_who_may_start_stop_skip_archive_and_change_the_pause(
    crm: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, mine = await call(
        http, crm, "202", "POST", P, body={"name": "Мой", "numbers": "+79161110001\n+79161110002"}
    )
    _, other = await call(http, crm, "203", "POST", P, body={"name": "Чужой", "numbers": "+79161110003"})
    entry = (await call(http, crm, "202", "GET", f"{P}/{mine['id']}"))[1]["entries"]["items"][1]["id"]
    seen = [
        (await call(http, crm, "203", "POST", f"{P}/{mine['id']}/entries/{entry}/skip"))[0],  # not the author
        (await call(http, crm, "202", "POST", f"{P}/{mine['id']}/start"))[0],  # unassigned: the starter dials
        (await call(http, crm, "203", "POST", f"{P}/{mine['id']}/pause"))[0],  # someone else's list
        (await call(http, crm, "201", "PATCH", f"{P}/{mine['id']}", body={"pause_seconds": 30}))[
            0
        ],  # not the dialler
        (await call(http, crm, "202", "PATCH", f"{P}/{mine['id']}", body={"pause_seconds": 30}))[0],
        (await call(http, crm, "202", "PATCH", f"{P}/{mine['id']}", body={"employee_id": None}))[
            0
        ],  # running
        (await call(http, crm, "202", "POST", f"{P}/{other['id']}/start"))[0],  # one list at a time
        (await call(http, crm, "201", "POST", f"{P}/{mine['id']}/pause"))[0],  # a manager may
        (await call(http, crm, "202", "POST", f"{P}/{mine['id']}/entries/{entry}/skip"))[0],
        (await call(http, crm, "202", "POST", f"{P}/{mine['id']}/archive"))[0],
        (await call(http, crm, "202", "PATCH", f"{P}/{mine['id']}", body={"pause_seconds": 9999}))[0],
    ]
    assert (status, seen) == (201, [403, 200, 403, 403, 200, 409, 409, 200, 200, 200, 422])

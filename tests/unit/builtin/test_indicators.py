"""The card's indicators (manual: «Блок с индикаторами»), counted as the viewer may see them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp

from tests.unit.builtin.helpers import T0, CrmServer, make_call

PHONE = "+79160009001"


async def _card(http: aiohttp.ClientSession, server: CrmServer, client_id: int, ext: str) -> Any:
    async with http.get(f"{server.url}/api/crm/clients/{client_id}", headers=server.headers(ext)) as r:
        assert r.status == 200
        return (await r.json())["indicators"]


async def _client(server: CrmServer) -> int:
    store = server.store
    egor = await store.employees.by_extension("202")
    assert egor is not None
    client_id = await store.clients.create("ООО Лето", [PHONE], responsible_id=egor["id"])
    await server.adapter.log_call(make_call("90.1", PHONE, answered_by="202", talk=600))
    await server.adapter.log_call(
        make_call("90.2", PHONE, answered_by=None, rang=("202",), start=T0 + timedelta(hours=1))
    )
    await server.adapter.log_call(
        make_call("90.3", PHONE, answered_by="203", rang=("203",), start=T0 + timedelta(hours=2), talk=120)
    )
    pipeline = (await store.deals.pipelines())[0]
    for title, value, status in (
        ("Первая", 1000.0, "open"),
        ("Вторая", 2500.0, "won"),
        ("Третья", 4000.0, "open"),
    ):
        deal = await store.deals.create(
            {"title": title, "client_id": client_id, "pipeline_id": pipeline["id"], "value": value,
             "responsible_id": egor["id"]}
        )  # fmt: skip
        if status != "open":
            await store.deals.update(deal["id"], {"status": status})
    return client_id


async def test_a_manager_sees_every_call_and_deal_of_the_client(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id = await _client(server)
    figures = await _card(http, server, client_id, "201")
    assert figures == {
        "calls": 3,
        "missed": 1,
        "talk_minutes": 12,
        "last_call": (T0 + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "open_deals": 2,
        "open_value": 5000.0,
        "won_deals": 1,
        "won_value": 2500.0,
        "open_tasks": 1,  # the missed call's call-back task
    }


async def test_an_employee_counts_only_the_calls_and_deals_they_may_see(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id = await _client(server)
    eva = await _card(http, server, client_id, "203")
    assert (eva["calls"], eva["missed"], eva["talk_minutes"], eva["open_deals"], eva["won_deals"]) == (
        1,
        0,
        2,
        0,
        0,
    )

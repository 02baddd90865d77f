"""What came of a call, chosen by the employee from the company's list (settings.call_outcomes)."""

from __future__ import annotations

import aiohttp

from tests.unit.builtin.helpers import CrmServer, ask, make_call


async def test_an_employee_records_the_outcome_of_their_call_and_the_list_filters_by_it(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("70.1", "+79160007070"))
    await server.adapter.log_call(make_call("70.2", "+79160007071"))
    status, body = await ask(
        http, server, "POST", "/calls/70.1/outcome", "202", body={"outcome": "Отправить КП"}
    )
    assert (status, body) == (200, {"id": "70.1", "outcome": "Отправить КП"})
    _, listed = await ask(http, server, "GET", "/calls?outcome=Отправить КП", "201")
    assert [(c["id"], c["outcome"]) for c in listed["items"]] == [("70.1", "Отправить КП")]
    call = await server.store.calls.get("70.1")
    _, feed = await ask(http, server, "GET", f"/clients/{call['client_id']}/feed", "201")
    assert any("Итог звонка: Отправить КП" in str(item) for item in feed["items"])


async def test_an_outcome_outside_the_companys_list_is_refused(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("71.1", "+79160007170"))
    status, problem = await ask(
        http, server, "POST", "/calls/71.1/outcome", "202", body={"outcome": "Купил слона"}
    )
    assert status == 422 and "outcome" in str(problem)
    assert (await server.store.calls.get("71.1"))["outcome"] == ""


async def test_an_employee_cannot_mark_a_call_they_had_no_part_in(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("72.1", "+79160007270", answered_by="203", rang=("203",)))
    status, _ = await ask(
        http, server, "POST", "/calls/72.1/outcome", "202", body={"outcome": "Отправить КП"}
    )
    assert status == 404


async def test_an_admin_edits_the_list_and_a_redelivered_call_keeps_its_outcome(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    status, settings = await ask(
        http, server, "PATCH", "/settings", "200", body={"call_outcomes": ["Продажа", " Продажа ", "Отказ"]}
    )
    assert (status, settings["call_outcomes"]) == (200, ["Продажа", "Отказ"])
    await server.adapter.log_call(make_call("73.1", "+79160007370"))
    await ask(http, server, "POST", "/calls/73.1/outcome", "202", body={"outcome": "Продажа"})
    await server.adapter.log_call(make_call("73.1", "+79160007370"))  # the outbox delivered it again
    assert (await server.store.calls.get("73.1"))["outcome"] == "Продажа"
    refused, _ = await ask(http, server, "PATCH", "/settings", "202", body={"call_outcomes": ["Ура"]})
    cleared, _ = await ask(http, server, "POST", "/calls/73.1/outcome", "202", body={"outcome": ""})
    assert (refused, cleared, (await server.store.calls.get("73.1"))["outcome"]) == (403, 200, "")

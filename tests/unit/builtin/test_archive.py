"""Archiving a client (manual: «Как удалить клиента»): for good, its deals deleted, its numbers set
free; the archive stays readable. On both back ends, through the HTTP API."""

from __future__ import annotations

import aiohttp

from tests.unit.builtin.helpers import CrmServer, ask, make_call

PHONES = ["+79160008001", "+79160008002"]


async def _client_with_a_deal(server: CrmServer, responsible_ext: str) -> tuple[int, int]:
    store = server.store
    responsible = await store.employees.by_extension(responsible_ext)
    assert responsible is not None
    client_id = await store.clients.create("ООО Ромашка", PHONES, responsible_id=responsible["id"])
    [pipeline] = (await store.deals.pipelines())[:1]
    deal = await store.deals.create(
        {"title": "Поставка", "client_id": client_id, "pipeline_id": pipeline["id"]}
    )
    return client_id, int(deal["id"])


async def test_an_archived_client_leaves_the_list_loses_its_deals_and_stays_readable(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id, deal_id = await _client_with_a_deal(server, "202")
    status, archived = await ask(http, server, "POST", f"/clients/{client_id}/archive", "201")
    assert status == 200, archived
    assert (archived["phones"], archived["archived_phones"]) == ([], ", ".join(PHONES))
    assert archived["archived_at"]
    _, working = await ask(http, server, "GET", "/clients", "201")
    _, archive = await ask(http, server, "GET", "/clients?archived=1", "201")
    assert client_id not in [c["id"] for c in working["items"]]
    assert [c["id"] for c in archive["items"]] == [client_id]
    deal_status, _ = await ask(http, server, "GET", f"/deals/{deal_id}", "201")
    card_status, card = await ask(http, server, "GET", f"/clients/{client_id}", "201")
    assert (deal_status, card_status, card["name"]) == (404, 200, "ООО Ромашка")
    _, feed = await ask(http, server, "GET", f"/clients/{client_id}/feed", "201")
    assert any("отправлен в архив" in str(item) for item in feed["items"])


async def test_an_archived_card_cannot_be_changed_or_archived_again(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id, _ = await _client_with_a_deal(server, "202")
    await ask(http, server, "POST", f"/clients/{client_id}/archive", "201")
    renamed, _ = await ask(http, server, "PATCH", f"/clients/{client_id}", "201", body={"name": "Новое имя"})
    phone, _ = await ask(
        http, server, "POST", f"/clients/{client_id}/phones", "201", body={"phone": "+79160008009"}
    )
    again, problem = await ask(http, server, "POST", f"/clients/{client_id}/archive", "201")
    assert (renamed, phone, again) == (409, 409, 409)
    assert "в архиве" in problem["detail"]


async def test_an_employee_archives_only_their_own_clients(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id, deal_id = await _client_with_a_deal(server, "203")
    status, _ = await ask(http, server, "POST", f"/clients/{client_id}/archive", "202")
    assert status == 403
    assert (await server.store.clients.get(client_id))["archived_at"] is None
    assert (await server.store.deals.get(deal_id))["title"] == "Поставка"


async def test_a_new_call_from_an_archived_number_opens_a_new_contact_card(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    client_id, _ = await _client_with_a_deal(server, "202")
    await ask(http, server, "POST", f"/clients/{client_id}/archive", "202")
    await server.adapter.log_call(make_call("81.1", PHONES[0]))
    card = await server.store.clients.by_phone(PHONES[0])
    assert card is not None
    assert (card["id"] != client_id, card["kind"]) == (True, "contact")

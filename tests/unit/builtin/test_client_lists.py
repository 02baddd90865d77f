"""Lists of clients from the card (manual: «Для чего нужны списки»): a client in several lists, the
clients page filtered by one, on both back ends."""

from __future__ import annotations

import json

import aiohttp

from adapters.builtin.client_lists import ClientLists
from tests.unit.builtin.helpers import CrmServer, ask


async def _clients(server: CrmServer) -> tuple[int, int]:
    egor = await server.store.employees.by_extension("202")
    assert egor is not None
    first = await server.store.clients.create("ООО Север", ["+79160006001"], responsible_id=egor["id"])
    second = await server.store.clients.create("ООО Юг", ["+79160006002"], responsible_id=egor["id"])
    return first, second


async def test_a_client_joins_several_lists_and_the_clients_page_filters_by_one(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    first, second = await _clients(server)
    await ask(http, server, "POST", f"/clients/{first}/lists", "202", body={"name": "Выставка 2026"})
    status, joined = await ask(http, server, "POST", f"/clients/{first}/lists", "202", body={"name": " VIP "})
    await ask(http, server, "POST", f"/clients/{second}/lists", "202", body={"name": "VIP"})
    assert (status, [item["name"] for item in joined["items"]]) == (200, ["VIP", "Выставка 2026"])
    _, lists = await ask(http, server, "GET", "/lists", "202")
    by_name = {item["name"]: item for item in lists["items"]}
    assert {name: item["count"] for name, item in by_name.items()} == {"VIP": 2, "Выставка 2026": 1}
    expo = json.dumps([{"field": "list", "op": "eq", "value": by_name["Выставка 2026"]["id"]}])
    _, filtered = await ask(http, server, "GET", f"/clients?filter={expo}", "202")
    assert [c["name"] for c in filtered["items"]] == ["ООО Север"]
    _, card = await ask(http, server, "GET", f"/clients/{first}", "202")
    assert [item["name"] for item in card["lists"]] == ["VIP", "Выставка 2026"]
    _, feed = await ask(http, server, "GET", f"/clients/{first}/feed", "202")
    assert any("Добавлен в список «VIP»" in str(item) for item in feed["items"])


async def test_a_client_leaves_a_list_and_the_list_stays(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    first, _ = await _clients(server)
    _, joined = await ask(http, server, "POST", f"/clients/{first}/lists", "202", body={"name": "VIP"})
    list_id = joined["items"][0]["id"]
    status, left = await ask(http, server, "DELETE", f"/clients/{first}/lists/{list_id}", "202")
    again, _ = await ask(http, server, "DELETE", f"/clients/{first}/lists/{list_id}", "202")
    _, lists = await ask(http, server, "GET", "/lists", "202")
    assert (status, left["items"], again) == (200, [], 404)
    assert [(item["name"], item["count"]) for item in lists["items"]] == [("VIP", 0)]


async def test_only_the_clients_people_change_its_lists_and_names_are_checked(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    first, _ = await _clients(server)
    other, _ = await ask(http, server, "POST", f"/clients/{first}/lists", "203", body={"name": "VIP"})
    blank, _ = await ask(http, server, "POST", f"/clients/{first}/lists", "202", body={"name": "   "})
    long, _ = await ask(http, server, "POST", f"/clients/{first}/lists", "202", body={"name": "x" * 61})
    assert (other, blank, long) == (403, 422, 422)
    assert await ClientLists(server.store.db).all() == []

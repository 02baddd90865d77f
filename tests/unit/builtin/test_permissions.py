"""The role matrix, route by route; records owned by someone else; the audit log of every change."""

from __future__ import annotations

import re

import aiohttp
import pytest

from adapters.builtin.permissions import MATRIX, NONE, ROUTES
from tests.unit.builtin.helpers import ADMIN_SERVICE_TOKEN, SERVICE_TOKEN, CrmServer, make_call

CALLERS = {
    "admin": "200",
    "manager": "201",
    "employee": "202",
    "service": SERVICE_TOKEN,
    "admin-token": ADMIN_SERVICE_TOKEN,
}
ROLE_ROW = {"admin-token": "admin"}


def _headers(server: CrmServer, who: str) -> dict[str, str]:
    value = CALLERS[who]
    token = server.tokens.get(value, value)
    return {"Authorization": f"Bearer {token}"}


async def _ids(server: CrmServer) -> dict[str, str]:
    await server.adapter.log_call(make_call("90.1", rang=("202",), answered_by="202"))
    client = await server.store.clients.create("Клиент", ["+79160009090"])
    return {"id": str(client), "number": "74951110001"}


@pytest.mark.parametrize("who", sorted(CALLERS))
async def test_each_route_refuses_exactly_the_roles_the_matrix_refuses(
    server: CrmServer, http: aiohttp.ClientSession, who: str
) -> None:
    ids = await _ids(server)
    wrong: list[str] = []
    for (method, route), (resource, action) in sorted(ROUTES.items()):
        path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), ids["id"]), route)
        if "/calls/{id}" in route:
            path = path.replace(f"/calls/{ids['id']}", "/calls/90.1")
        role = ROLE_ROW.get(who, who)
        refused = MATRIX[resource][role][0 if action == "read" else 1] == NONE
        async with http.request(method, f"{server.url}{path}", json={}, headers=_headers(server, who)) as r:
            if (r.status == 403) != refused or r.status in (500, 502, 503):
                wrong.append(f"{method} {route}: {r.status}, matrix says {'refuse' if refused else 'allow'}")
    assert wrong == []


async def _client_of(server: CrmServer, ext: str | None) -> int:
    owner = await server.store.employees.by_extension(ext) if ext else None
    return await server.store.clients.create(
        f"Клиент {ext}", [f"+7916000{ext or '000'}11"], responsible_id=owner["id"] if owner else None
    )


async def test_an_employee_may_not_edit_another_managers_client(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    theirs = await _client_of(server, "201")
    url = f"{server.url}/api/crm/clients/{theirs}"
    async with http.patch(
        url, json={"name": "Чужой", "responsible_id": 3}, headers=server.headers("202")
    ) as r:
        assert r.status == 403 and r.content_type == "application/problem+json"
    assert (await server.store.clients.get(theirs))["name"] == "Клиент 201"
    async with http.post(f"{url}/phones", json={"phone": "+79167770000"}, headers=server.headers("202")) as r:
        assert r.status == 403
    async with http.patch(url, json={"name": "Переименован"}, headers=server.headers("201")) as r:
        assert r.status == 200  # its own manager may


async def test_an_employee_edits_their_own_client_and_an_unassigned_card(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    for client in (await _client_of(server, "202"), await _client_of(server, None)):
        url = f"{server.url}/api/crm/clients/{client}"
        async with http.patch(url, json={"notes": "перезвонить"}, headers=server.headers("202")) as r:
            assert r.status == 200


async def test_an_employee_may_not_attach_a_call_to_another_managers_client(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("91.1", "+79160009191", rang=("202",), answered_by="202"))
    theirs = await _client_of(server, "201")
    url = f"{server.url}/api/crm/calls/91.1/attach"
    async with http.post(url, json={"client_id": theirs}, headers=server.headers("202")) as r:
        assert r.status == 403


async def test_an_employee_may_not_create_a_client_for_someone_else(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    manager = await server.store.employees.by_extension("201")
    assert manager is not None
    body = {"name": "Подарок", "responsible_id": manager["id"]}
    async with http.post(f"{server.url}/api/crm/clients", json=body, headers=server.headers("202")) as r:
        assert r.status == 403


async def _deal(server: CrmServer, ext: str) -> int:
    owner = await server.store.employees.by_extension(ext)
    pipeline = (await server.store.deals.pipelines())[0]
    assert owner is not None
    row = await server.store.deals.create(
        {"title": f"Сделка {ext}", "pipeline_id": pipeline["id"], "responsible_id": owner["id"]}
    )
    return int(row["id"])


async def test_an_employee_sees_and_moves_only_their_own_deals(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    mine, theirs = await _deal(server, "202"), await _deal(server, "201")
    async with http.get(f"{server.url}/api/crm/deals", headers=server.headers("202")) as r:
        assert [d["id"] for d in (await r.json())["items"]] == [mine]
    async with http.get(f"{server.url}/api/crm/deals", headers=server.headers("201")) as r:
        assert (await r.json())["total"] == 2
    url = f"{server.url}/api/crm/deals/{theirs}"
    async with http.patch(url, json={"status": "lost"}, headers=server.headers("202")) as r:
        assert r.status == 403
    async with http.patch(
        f"{server.url}/api/crm/deals/{mine}", json={"status": "won"}, headers=server.headers("202")
    ) as r:
        assert r.status == 200


async def test_an_employee_sees_tasks_they_set_or_were_given_only(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    ids = {e["extension"]: e["id"] for e in await server.store.employees.list()}
    given = await server.store.notes.add_task({"title": "мне", "assignee_id": ids["202"]}, ids["201"])
    set_by_me = await server.store.notes.add_task({"title": "от меня", "assignee_id": ids["203"]}, ids["202"])
    other = await server.store.notes.add_task({"title": "чужая", "assignee_id": ids["203"]}, ids["201"])
    async with http.get(f"{server.url}/api/crm/tasks", headers=server.headers("202")) as r:
        seen = {t["id"] for t in (await r.json())["items"]}
    assert seen == {given["id"], set_by_me["id"]}
    url = f"{server.url}/api/crm/tasks/{other['id']}"
    async with http.patch(url, json={"done": True}, headers=server.headers("202")) as r:
        assert r.status == 403


async def test_every_change_is_in_the_audit_log_for_admins_only(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    mine = await _client_of(server, "202")
    await http.patch(
        f"{server.url}/api/crm/clients/{mine}", json={"notes": "VIP"}, headers=server.headers("202")
    )
    body = {"name": "Новый", "extension": "250", "role": "employee", "login": "novy",
            "password": "длинный пароль для нового"}  # fmt: skip
    await http.post(f"{server.url}/api/crm/employees", json=body, headers=server.headers("200"))
    async with http.get(f"{server.url}/api/crm/audit", headers=server.headers("201")) as r:
        assert r.status == 403
    async with http.get(f"{server.url}/api/crm/audit", headers=server.headers("200")) as r:
        items = (await r.json())["items"]
    employee, client = items[0], items[1]
    assert (client["actor"], client["action"], client["entity"], client["entity_id"]) == (
        "Егор Сотрудник",
        "change",
        "clients",
        str(mine),
    )
    assert client["detail"] == {"notes": "VIP"}
    assert (employee["action"], employee["entity"], employee["detail"]["password"]) == (
        "create",
        "employees",
        "***",
    )
    assert "длинный пароль" not in str(items)


async def test_a_refused_change_is_not_in_the_audit_log(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    theirs = await _client_of(server, "201")
    await http.patch(
        f"{server.url}/api/crm/clients/{theirs}", json={"name": "x"}, headers=server.headers("202")
    )
    rows, total = await server.store.audit.list(None, None, limit=10, offset=0)
    assert total == 0 and rows == []


async def test_me_tells_the_page_what_the_person_may_do(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/api/crm/me", headers=server.headers("202")) as r:
        permissions = (await r.json())["permissions"]
    assert permissions["analytics"] == {"read": "none", "change": "none"}
    assert permissions["clients"] == {"read": "all", "change": "own"}


async def test_who_listened_to_which_recording_is_in_the_audit_log(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    recording = server.links.root / "2026" / "in-202.wav"
    recording.parent.mkdir(parents=True)
    recording.write_bytes(b"RIFF" + b"\0" * 4000)
    await server.adapter.log_call(
        make_call("95.1", rang=("202",), answered_by="202", recording=str(recording))
    )
    link = server.links.url(recording)
    async with http.get(f"{server.url}{link}", headers=server.headers("202")) as r:
        assert r.status == 200
    async with http.get(
        f"{server.url}{link}", headers={**server.headers("202"), "Range": "bytes=2000-"}
    ) as r:
        assert r.status == 206  # a seek: not another listen
    async with http.get(f"{server.url}{link}") as r:
        assert r.status == 200  # a CRM playing the link: nobody signed in
    rows, _ = await server.store.audit.list("recordings", None, limit=10, offset=0)
    assert [(r["actor"], r["action"], r["entity_id"]) for r in rows] == [
        ("по подписанной ссылке", "listen", "2026/in-202.wav"),
        ("Егор Сотрудник", "listen", "2026/in-202.wav"),
    ]

"""The CRM's REST API: tokens, sign-in, roles."""

from __future__ import annotations

import aiohttp

from tests.unit.builtin.helpers import ADMIN_SERVICE_TOKEN, SERVICE_TOKEN, CrmServer, make_call


async def test_a_request_without_a_token_gets_401_problem_json(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/api/crm/calls") as r:
        assert r.status == 401 and r.content_type == "application/problem+json"
        assert (await r.json())["status"] == 401


async def test_a_wrong_token_gets_401(server: CrmServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/api/crm/me", headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401


async def test_signing_in_sets_an_httponly_cookie_that_authenticates(server: CrmServer) -> None:
    # unsafe=True: aiohttp's jar keeps no cookies for bare IP hosts otherwise (browsers do)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        body = {"login": "egor", "password": "морской ветер и три чайки"}
        async with http.post(f"{server.url}/api/crm/session", json=body) as r:
            assert r.status == 200
            cookie = r.cookies["crm_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
            assert cookie.value not in (server.tokens["202"], "") and len(cookie.value) >= 40
        async with http.get(f"{server.url}/api/crm/me") as r:
            assert (await r.json())["extension"] == "202"


async def test_signing_in_with_a_token_is_no_longer_possible(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.url}/api/crm/session", json={"token": server.tokens["202"]}) as r:
        assert r.status == 422 and "crm_session" not in r.cookies


async def test_an_employee_sees_only_their_own_calls(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await server.adapter.log_call(make_call("20.1", rang=("202",), answered_by="202"))
    await server.adapter.log_call(make_call("20.2", "+79160002020", rang=("203",), answered_by="203"))
    async with http.get(f"{server.url}/api/crm/calls", headers=server.headers("202")) as r:
        assert [c["id"] for c in (await r.json())["items"]] == ["20.1"]


async def test_a_manager_sees_every_call(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await server.adapter.log_call(make_call("21.1", rang=("202",), answered_by="202"))
    await server.adapter.log_call(make_call("21.2", "+79160002121", rang=("203",), answered_by="203"))
    async with http.get(f"{server.url}/api/crm/calls", headers=server.headers("201")) as r:
        assert (await r.json())["total"] == 2


async def test_another_employees_call_is_not_found_for_an_employee(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("22.1", rang=("203",), answered_by="203"))
    async with http.get(f"{server.url}/api/crm/calls/22.1", headers=server.headers("202")) as r:
        assert r.status == 404 and r.content_type == "application/problem+json"


async def test_an_admin_token_for_every_extension_sees_all_calls(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("23.1", rang=("203",), answered_by="203"))
    headers = {"Authorization": f"Bearer {ADMIN_SERVICE_TOKEN}"}
    async with http.get(f"{server.url}/api/crm/calls", headers=headers) as r:
        assert (await r.json())["total"] == 1


async def test_a_call_control_service_token_reads_no_calls(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await server.adapter.log_call(make_call("23.2", rang=("203",), answered_by="203"))
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    async with http.get(f"{server.url}/api/crm/calls", headers=headers) as r:
        assert (await r.json())["total"] == 0


async def test_only_admins_add_employees(server: CrmServer, http: aiohttp.ClientSession) -> None:
    body = {"name": "Новый", "extension": "208", "role": "employee"}
    async with http.post(f"{server.url}/api/crm/employees", json=body, headers=server.headers("201")) as r:
        assert r.status == 403
    assert await server.store.employees.by_extension("208") is None


async def test_an_admin_adds_an_employee_and_gets_their_token_once(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    body = {"name": "Новый", "extension": "208", "role": "employee"}
    async with http.post(f"{server.url}/api/crm/employees", json=body, headers=server.headers("200")) as r:
        assert r.status == 201
        token = (await r.json())["token"]
    async with http.get(f"{server.url}/api/crm/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert (await r.json())["extension"] == "208"


async def test_an_employee_changes_their_screen_pop_setting(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    async with http.patch(
        f"{server.url}/api/crm/me", json={"screen_pop": "answer"}, headers=server.headers("202")
    ) as r:
        assert (await r.json())["screen_pop"] == "answer"


async def test_the_openapi_description_covers_every_crm_route(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/api/crm/openapi.json", headers=server.headers("202")) as r:
        paths = (await r.json())["paths"]
    mounted = {
        (route.method.lower(), route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/crm/")
        and route.method != "HEAD"
    }  # fmt: skip
    described = {(m, p) for p, ops in paths.items() for m in ops}
    assert mounted - {("get", "/api/crm/openapi.json")} == described


async def test_the_openapi_description_needs_a_signed_in_caller(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/api/crm/openapi.json") as r:
        assert r.status == 401


async def test_every_crm_route_has_a_rule_in_the_permission_matrix(server: CrmServer) -> None:
    from adapters.builtin.permissions import PUBLIC, ROUTES

    mounted = {
        (route.method, route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/crm/")
        and route.method != "HEAD"
    }  # fmt: skip
    assert mounted - PUBLIC == set(ROUTES)

"""Every bad request gets a 4xx with a message, never a 500 (issue 25.5)."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.unit.builtin.helpers import CrmServer

HUGE = "1" * 23  # 23 digits: more than SQLite's INTEGER holds


async def test_deeply_nested_json_is_a_400(server: CrmServer, http: aiohttp.ClientSession) -> None:
    client = await server.store.clients.create("Клиент", [])
    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    headers = {**server.headers("200"), "Content-Type": "application/json"}
    async with http.patch(f"{server.url}/api/crm/clients/{client}", data=body, headers=headers) as r:
        assert r.status == 400 and "nested" in (await r.json())["detail"]


async def test_a_23_digit_id_is_a_404_in_the_path_and_a_422_elsewhere(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    headers = server.headers("200")
    async with http.get(f"{server.url}/api/crm/clients/{HUGE}", headers=headers) as r:
        assert r.status == 404 and r.content_type == "application/problem+json"
    async with http.get(f"{server.url}/api/crm/calls?client_id={HUGE}", headers=headers) as r:
        assert r.status == 422
    body = {"title": "x", "pipeline_id": int(HUGE)}
    async with http.post(f"{server.url}/api/crm/deals", json=body, headers=headers) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["message"] == "is too large"


async def test_digits_python_accepts_but_sqlite_does_not_are_a_404(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    for odd in ("²", "١٢", "-1", "0"):
        async with http.get(f"{server.url}/api/crm/clients/{odd}", headers=server.headers("200")) as r:
            assert r.status == 404, odd


async def test_an_infinite_sum_is_a_422(server: CrmServer, http: aiohttp.ClientSession) -> None:
    pipeline = (await server.store.deals.pipelines())[0]
    headers = {**server.headers("200"), "Content-Type": "application/json"}
    body = '{"title": "x", "pipeline_id": PID, "value": 1e400}'.replace("PID", str(pipeline["id"]))
    async with http.post(f"{server.url}/api/crm/deals", data=body, headers=headers) as r:
        assert r.status == 422


@pytest.mark.parametrize("path", ["%00abc", "a%00b.wav", "%01%02", "x" * 5000, "%2e%2e/%2e%2e/etc/passwd"])
async def test_a_recording_path_that_is_no_file_name_is_a_404(
    server: CrmServer, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(f"{server.url}/recordings/{path}", headers=server.headers("200")) as r:
        assert r.status in (404, 414) and r.content_type in ("application/problem+json", "text/plain")


NASTY_PATH = ("0", HUGE, "%00", "²", "x" * 300, "-1")
NASTY_BODIES = ({}, {"id": int(HUGE), "client_id": int(HUGE)}, {"name": "\x00" * 10, "value": -1}, [1, 2])


async def test_no_route_answers_a_nasty_request_with_a_5xx(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    routes = {
        (route.method, route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/")
        and route.method not in ("HEAD", "*")
    }  # fmt: skip
    failures = []
    headers = server.headers("200")
    for method, canonical in sorted(routes):
        for value in NASTY_PATH:
            path = re.sub(r"\{[^}]+\}", value, canonical)
            for body in NASTY_BODIES if method != "GET" else ({},):
                async with http.request(method, f"{server.url}{path}", json=body, headers=headers) as r:
                    if r.status >= 500 and r.status != 501:
                        failures.append(f"{method} {path} {body!r}: {r.status}")
    assert failures == []

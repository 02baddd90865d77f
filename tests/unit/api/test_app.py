"""The HTTP app's shared behaviour: problem+json errors and security headers."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from connector.api.app import Problem, create_app
from connector.config import HttpSettings
from tests.unit.api.conftest import ServeApp


def _app() -> web.Application:
    app = create_app(HttpSettings())

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("unexpected")

    async def refuse(request: web.Request) -> web.Response:
        raise Problem(409, "Conflict", "already there", errors=[{"field": "x", "message": "taken"}])

    async def fine(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/api/boom", boom)
    app.router.add_get("/api/refuse", refuse)
    app.router.add_get("/api/fine", fine)
    return app


async def test_an_unknown_path_is_a_404_problem(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/nowhere") as r:
        assert r.status == 404 and r.content_type == "application/problem+json"
        assert (await r.json())["instance"] == "/nowhere"


async def test_a_wrong_method_is_a_405_problem_with_allow(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_app())
    async with http.delete(f"{url}/api/fine") as r:
        assert r.status == 405 and "GET" in r.headers["Allow"]


async def test_an_unexpected_error_is_a_500_problem_without_details(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/boom") as r:
        body = await r.json()
        assert r.status == 500 and "unexpected" not in str(body)


async def test_a_raised_problem_keeps_its_extra_members(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/refuse") as r:
        assert r.status == 409 and (await r.json())["errors"] == [{"field": "x", "message": "taken"}]


async def test_answers_carry_security_headers_and_no_store(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/fine") as r:
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Cache-Control"] == "no-store"

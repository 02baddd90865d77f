"""Tokens: service tokens from the config, people through a resolver, header or cookie."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from connector.api.app import create_app
from connector.api.auth import COOKIE, Authenticator, Principal, require
from connector.config import ApiToken, HttpSettings
from connector.settings_schema import Secret
from tests.unit.api.conftest import ServeApp

TOKENS = (
    ApiToken("widget", Secret("svc-token-aaaa-0123456789"), ("201", "202"), "service"),
    ApiToken("ops", Secret("svc-token-bbbb-0123456789"), ("*",), "admin"),
)


async def test_a_service_token_resolves_to_its_extensions() -> None:
    principal = await Authenticator(TOKENS).resolve("svc-token-aaaa-0123456789")
    assert principal is not None and principal.extensions == ("201", "202") and not principal.sees_all


async def test_a_service_token_for_every_extension_sees_all() -> None:
    principal = await Authenticator(TOKENS).resolve("svc-token-bbbb-0123456789")
    assert principal is not None and principal.sees_all and principal.may_act_for("999")


async def test_an_unknown_token_resolves_to_nobody() -> None:
    assert await Authenticator(TOKENS).resolve("svc-token-aaab") is None


async def test_people_are_resolved_through_the_plugged_in_lookup() -> None:
    async def people(token: str) -> Principal | None:
        return Principal("Егор", "employee", ("202",), employee_id=3) if token == "person" else None

    principal = await Authenticator(TOKENS, people).resolve("person")
    assert principal is not None and principal.scope == ("202",)


def _app() -> web.Application:
    app = create_app(HttpSettings(tokens=TOKENS))

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response({"name": (await require(request)).name})

    app.router.add_get("/api/whoami", whoami)
    return app


async def test_a_bearer_header_authenticates(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(
        f"{url}/api/whoami", headers={"Authorization": "Bearer svc-token-bbbb-0123456789"}
    ) as r:
        assert (await r.json())["name"] == "ops"


async def test_the_session_cookie_authenticates(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/whoami", headers={"Cookie": f"{COOKIE}=svc-token-aaaa-0123456789"}) as r:
        assert (await r.json())["name"] == "widget"


async def test_no_token_is_a_401_problem(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/whoami") as r:
        assert r.status == 401 and r.content_type == "application/problem+json"

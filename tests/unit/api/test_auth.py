"""Tokens: service tokens from the config, people through a resolver, header or cookie."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from connector.api.app import AUTH_KEY, create_app
from connector.api.auth import COOKIE, CSRF_HEADER, Authenticator, Principal, csrf_token, require
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


async def test_a_token_in_the_cookie_signs_nobody_in(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    # The cookie once held the permanent token itself; now it holds only a session id.
    url = await serve(_app())
    async with http.get(f"{url}/api/whoami", headers={"Cookie": f"{COOKIE}=svc-token-aaaa-0123456789"}) as r:
        assert r.status == 401


def _session_app() -> web.Application:
    async def sessions(session_id: str) -> Principal | None:
        if session_id != "sess-1":
            return None
        return Principal("Егор", "employee", ("202",), employee_id=3, session="s1", csrf=csrf_token("sess-1"))

    app = _app()
    app[AUTH_KEY].set_people(None, sessions)

    async def change(request: web.Request) -> web.Response:
        return web.json_response({"name": (await require(request)).name})

    app.router.add_post("/api/change", change)
    return app


async def test_the_session_cookie_authenticates(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_session_app())
    async with http.get(f"{url}/api/whoami", headers={"Cookie": f"{COOKIE}=sess-1"}) as r:
        assert (await r.json())["name"] == "Егор"


async def test_a_cookie_change_without_the_csrf_token_is_refused(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_session_app())
    async with http.post(f"{url}/api/change", headers={"Cookie": f"{COOKIE}=sess-1"}) as r:
        assert r.status == 403 and "CSRF" in (await r.json())["detail"]
    wrong = {"Cookie": f"{COOKIE}=sess-1", CSRF_HEADER: csrf_token("sess-2")}
    async with http.post(f"{url}/api/change", headers=wrong) as r:
        assert r.status == 403


async def test_a_cookie_change_with_the_csrf_token_passes(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_session_app())
    headers = {"Cookie": f"{COOKIE}=sess-1", CSRF_HEADER: csrf_token("sess-1")}
    async with http.post(f"{url}/api/change", headers=headers) as r:
        assert r.status == 200


async def test_a_cookie_change_from_another_origin_is_refused(
    serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    url = await serve(_session_app())
    headers = {
        "Cookie": f"{COOKIE}=sess-1",
        CSRF_HEADER: csrf_token("sess-1"),
        "Origin": "https://evil.example",
    }
    async with http.post(f"{url}/api/change", headers=headers) as r:
        assert r.status == 403 and "another site" in (await r.json())["detail"]
    async with http.post(f"{url}/api/change", headers={**headers, "Origin": url}) as r:
        assert r.status == 200


async def test_a_bearer_change_needs_no_csrf_token(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    # Scripts send the token themselves; a browser never attaches an Authorization header on its own.
    url = await serve(_session_app())
    async with http.post(
        f"{url}/api/change", headers={"Authorization": "Bearer svc-token-bbbb-0123456789"}
    ) as r:
        assert r.status == 200


async def test_no_token_is_a_401_problem(serve: ServeApp, http: aiohttp.ClientSession) -> None:
    url = await serve(_app())
    async with http.get(f"{url}/api/whoami") as r:
        assert r.status == 401 and r.content_type == "application/problem+json"

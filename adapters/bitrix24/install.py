"""ONAPPINSTALL: installing the application hands the connector its first tokens.

The portal posts the event (form-encoded, like every event) to the app's handler, the daemon's
`install_path`, with `auth[access_token]`, `auth[refresh_token]`, `auth[expires_in]`,
`auth[client_endpoint]` and `auth[application_token]` (b24restdocs: common/events/on-app-install).
Anyone can post such a form, so nothing in it is believed until it works: the event's
client_endpoint must be the configured portal, and `app.info` called with the given access token
must name our client_id. Then the tokens go to the OAuth store and the application_token to the
state store; every later event (ONEXTERNALCALLSTART) is checked against it.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from adapters.bitrix24.auth import APP_TOKEN_KEY, OAuthAuth
from adapters.bitrix24.errors import Bitrix24ApiError, parse
from connector import logs

if TYPE_CHECKING:
    from adapters.bitrix24.adapter import Bitrix24Adapter

log = logs.get_logger(__name__)

EVENT = "ONAPPINSTALL"


def routes(adapter: Bitrix24Adapter) -> list[web.RouteDef]:
    """The install handler route (path from `install_path`)."""

    async def handle(request: web.Request) -> web.Response:
        return await on_install(adapter, request)

    return [web.post(adapter.settings.install_path, handle)]


async def on_install(adapter: Bitrix24Adapter, request: web.Request) -> web.Response:
    """Check the event's tokens against the portal, then store them and the application token."""
    auth = adapter.client.auth
    if not isinstance(auth, OAuthAuth):
        return web.json_response({"error": "auth: webhook has no application to install"}, status=409)
    form = await request.post()
    if str(form.get("event", "")).upper() != EVENT:
        return web.json_response({"error": "not an ONAPPINSTALL event"}, status=400)
    given = {
        key[5:-1]: str(value) for key, value in form.items() if key.startswith("auth[") and key.endswith("]")
    }
    access, refresh = given.get("access_token", ""), given.get("refresh_token", "")
    app_token = given.get("application_token", "")
    endpoint = given.get("client_endpoint") or auth.portal_rest()
    if not (access and refresh and app_token):
        return web.json_response({"error": "the event carries no tokens"}, status=400)
    if _origin(endpoint) != _origin(auth.portal_rest()):
        log.warning("bitrix24.install_refused", reason="another portal")
        return web.json_response({"error": "the event is not from the configured portal"}, status=403)
    stored = await adapter.context.state.get(APP_TOKEN_KEY)
    if stored and not hmac.compare_digest(str(stored).encode(), app_token.encode()):
        # A reinstall brings a new token; it is accepted only once its tokens prove themselves below.
        log.info("bitrix24.reinstall")
    if not await _is_our_app(adapter, endpoint, access):
        log.warning("bitrix24.install_refused", reason="app.info does not name this client_id")
        return web.json_response({"error": "the tokens are not this application's"}, status=403)
    await auth.install(access, refresh, _seconds(given.get("expires_in")), endpoint)
    await adapter.context.state.set(APP_TOKEN_KEY, app_token)
    log.info("bitrix24.installed", member_id=given.get("member_id", ""))
    return web.json_response({"result": "installed"})


async def _is_our_app(adapter: Bitrix24Adapter, endpoint: str, access: str) -> bool:
    timeout = aiohttp.ClientTimeout(total=adapter.settings.timeout)
    url = endpoint.rstrip("/") + "/app.info.json"
    try:
        async with adapter.context.session.post(
            url, json={"auth": access}, timeout=timeout, allow_redirects=False
        ) as resp:
            payload: dict[str, Any] = parse(resp.status, await resp.text())
    except (TimeoutError, aiohttp.ClientError, Bitrix24ApiError) as exc:
        log.warning("bitrix24.install_unverified", error=type(exc).__name__)
        return False
    result = payload.get("result")
    client_id = str(result.get("CLIENT_ID") or result.get("CODE") or "") if isinstance(result, dict) else ""
    return bool(client_id) and hmac.compare_digest(client_id.encode(), adapter.settings.client_id.encode())


async def application_token(adapter: Bitrix24Adapter) -> str:
    """The token the portal's events must carry: the configured one, else the one installed."""
    configured = adapter.settings.application_token.get()
    if configured:
        return configured
    stored = await adapter.context.state.get(APP_TOKEN_KEY)
    return str(stored) if stored else ""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _seconds(value: str | None) -> float:
    try:
        return max(60.0, float(value or 3600))
    except ValueError:
        return 3600.0

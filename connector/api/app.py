"""The daemon's HTTP application: problem+json errors, security headers, shared app keys.

`create_app` builds the aiohttp application every HTTP part mounts onto (health and metrics,
call control, webhooks, recordings, live events, the built-in CRM). Errors leave as RFC 9457
problem+json; handlers raise `Problem` for the 4xx they mean.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connector import logs
from connector.config import HttpSettings

if TYPE_CHECKING:
    from connector.api.auth import Authenticator
    from connector.api.live import LiveHub

log = logs.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS_KEY = web.AppKey("http_settings", HttpSettings)
AUTH_KEY: web.AppKey[Authenticator] = web.AppKey("authenticator")
HUB_KEY: web.AppKey[LiveHub] = web.AppKey("live_hub")

# The pages use only their own scripts, styles, media and WebSocket; nothing may frame them.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self';"
    " connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": _CSP,
}


class Problem(Exception):
    """An error answered as problem+json: status, short title, human detail, extra members."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def response(self, instance: str = "") -> web.Response:
        """The problem+json response."""
        return problem_response(self.status, self.title, self.detail, instance=instance, **self.extra)


def problem_response(status: int, title: str, detail: str = "", **extra: Any) -> web.Response:
    """An RFC 9457 problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v not in (None, "")})
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type=PROBLEM_JSON, charset="utf-8"
    )


_KEPT_HEADERS = frozenset({"Allow", "Retry-After", "WWW-Authenticate", "Vary"})


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into problem+json; unexpected ones are logged (isolation boundary)."""
    try:
        return await handler(request)
    except Problem as exc:
        return exc.response(request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = problem_response(exc.status, exc.reason, instance=request.path)
        for name, value in exc.headers.items():
            # CORS headers too: a widget's script must see the 401, not a CORS failure.
            if name in _KEPT_HEADERS or name.startswith("Access-Control-"):
                response.headers[name] = value
        return response
    except Exception:
        log.exception("http.unhandled", method=request.method, path=request.path)
        return problem_response(
            500, "Internal Server Error", "see the connector's log", instance=request.path
        )


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; API answers are never cached."""
    response = await handler(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request body must arrive within `http.limits.body_timeout` (uploads, multipart or a file as
    the body, application/octet-stream, which their handlers read in pieces: `upload_timeout`).

    The body is read here, before the handler, so a client trickling it byte by byte gets a 408
    instead of holding the connection; the handler then finds it already read.
    """
    if not request.body_exists or SETTINGS_KEY not in request.app:
        return await handler(request)
    limits = request.app[SETTINGS_KEY].limits
    if request.content_type.startswith("multipart/") or request.content_type == "application/octet-stream":
        try:
            async with asyncio.timeout(limits.upload_timeout):
                return await handler(request)
        except TimeoutError as exc:
            raise Problem(408, "Request Timeout", "the upload took too long") from exc
    try:
        async with asyncio.timeout(limits.body_timeout):
            await request.read()
    except TimeoutError as exc:
        raise Problem(408, "Request Timeout", "the request body came too slowly") from exc
    return await handler(request)


def create_app(
    settings: HttpSettings,
    *,
    authenticator: Authenticator | None = None,
    hub: LiveHub | None = None,
    client_max_size: int = 1024**2,
) -> web.Application:
    """The application the daemon serves; parts mount their routes onto it afterwards."""
    from connector.api.auth import Authenticator
    from connector.api.live import LiveHub

    app = web.Application(
        middlewares=[security_headers, problem_middleware, body_deadline], client_max_size=client_max_size
    )
    app[SETTINGS_KEY] = settings
    app[AUTH_KEY] = authenticator or Authenticator(settings.tokens)
    app[HUB_KEY] = hub or LiveHub()
    app.on_shutdown.append(_end_live_streams)
    return app


async def _end_live_streams(app: web.Application) -> None:
    """At shutdown, end the WebSocket streams so open browsers do not hold the stop up."""
    app[HUB_KEY].close()


MAX_JSON_DEPTH = 32  # no request of ours nests deeper; json would recurse ~1000 levels then fail


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/415 problem (also for absurd nesting)."""
    if request.content_type != "application/json":
        raise Problem(415, "Unsupported Media Type", "send application/json")
    text = await request.text()
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
        raise Problem(400, "Bad Request", f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise Problem(400, "Bad Request", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Problem(400, "Bad Request", "the body must be a JSON object")
    return data


def _depth(text: str) -> int:
    """How deep brackets nest in `text`, strings skipped (a linear scan, no recursion)."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest

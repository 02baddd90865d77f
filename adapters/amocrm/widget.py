"""The endpoint the amoCRM call-panel widget calls: click-to-call, hang-up, blind/attended transfer.

The widget runs in the employee's browser on https://<account>.amocrm.ru, so the routes answer
CORS preflights for the configured origins. Every request carries the widget token
(`Authorization: Bearer <adapters.amocrm.widget.token>`), names the employee by extension or by
amoCRM user id (mapped through the adapter's user map), and is checked against the allowed
extensions and the number pattern before anything is dialled (toll fraud is real).

For the call-control engineer: the adapter context's `call_control` must implement `CallControl`
below. Mount with `app.add_subapp("/amocrm/widget/", adapter.widget_app())`; routes are
POST originate {extension|user_id, number}, POST hangup {extension|user_id},
POST transfer {extension|user_id, target, kind: blind|attended}, POST card {extension|user_id,
number} (the client's card, a new contact when amoCRM has none: the pop-up's «Открыть карточку
клиента») and GET live (the panel's WebSocket, see `widget_live`). Answers: 200 {"ok": true, ...};
400 bad body, 401 bad token, 403 not permitted, 404 no such call, 409 refused, 429 too many
click-to-calls (with Retry-After: the widget may try again then, unlike a 403), 503 no call
control or the PBX not reachable.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from adapters.amocrm.settings import WidgetSettings
from adapters.amocrm.users import UserMap
from adapters.amocrm.widget_live import LiveSocket, WidgetFeed
from connector import logs
from connector.calls.model import TransferKind
from connector.errors import (
    CallControlError,
    CallNotFoundError,
    NotPermittedError,
    PbxUnavailableError,
    TooManyCallsError,
)

log = logs.get_logger(__name__)
EXTENSION = re.compile(r"^[0-9]{2,6}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CallControl(Protocol):
    """What the widget needs from the PBX side (implemented by the call-control service)."""

    async def originate(self, extension: str, number: str) -> str:
        """Ring `extension` first; when it answers, dial `number`. Returns an id for the request."""

    async def hangup(self, extension: str) -> None:
        """Hang up the employee's channel (and the client's on an outgoing call)."""

    async def transfer(self, extension: str, target: str, kind: TransferKind) -> None:
        """Transfer the client talking to `extension` to extension `target`."""


Cards = Callable[[str, str | None], Awaitable[dict[str, Any]]]
"""(number, amoCRM user id) → the client's card {id, kind, name, url, created}, made if missing."""


class BadRequest(Exception):
    """The widget sent something we cannot act on; the message is shown to it."""


class WidgetRoutes:
    """Request handlers bound to the settings, the user map and the call-control service."""

    def __init__(
        self,
        settings: WidgetSettings,
        users: UserMap,
        control: CallControl | None,
        cards: Cards | None = None,
    ) -> None:
        self.settings = settings
        self.users = users
        self.control = control
        self.cards = cards
        self.number = re.compile(settings.number_pattern)

    async def card(self, request: web.Request) -> web.Response:
        """The client's card to open from the pop-up: found by number, else a new contact."""
        self._authenticate(request)
        body = await _json(request)
        number = _text(body, "number")
        if not self.number.fullmatch(number):
            raise BadRequest(f"number {number!r} is not a phone number")
        if self.cards is None:
            raise web.HTTPServiceUnavailable(text="the amoCRM adapter is not running")
        user_id = str(body["user_id"]) if body.get("user_id") else None
        return web.json_response({"ok": True, **await self.cards(number, user_id)})

    async def originate(self, request: web.Request) -> web.Response:
        """Click-to-call: the employee's phone rings, then the client is dialled."""
        body, control, extension = await self._prepare(request)
        number = _text(body, "number")
        if not self.number.fullmatch(number):
            raise NotPermittedError(f"number {number!r} is not allowed for click-to-call")
        call_id = await control.originate(extension, number)
        log.info("amocrm.widget.originate", extension=extension, number=number)
        return web.json_response({"ok": True, "id": call_id})

    async def hangup(self, request: web.Request) -> web.Response:
        """Hang up the employee's current call."""
        _, control, extension = await self._prepare(request)
        await control.hangup(extension)
        return web.json_response({"ok": True})

    async def transfer(self, request: web.Request) -> web.Response:
        """Blind or attended transfer to another extension."""
        body, control, extension = await self._prepare(request)
        target = _text(body, "target")
        if not EXTENSION.fullmatch(target):
            raise BadRequest("target must be an extension")
        try:
            kind = TransferKind(str(body.get("kind", "blind")))
        except ValueError as exc:
            raise BadRequest("kind must be 'blind' or 'attended'") from exc
        await control.transfer(extension, target, kind)
        return web.json_response({"ok": True})

    async def _prepare(self, request: web.Request) -> tuple[dict[str, Any], CallControl, str]:
        self._authenticate(request)
        body = await _json(request)
        if self.control is None:
            raise web.HTTPServiceUnavailable(text="call control is not running")
        extension = self._extension(body)
        if "*" not in self.settings.extensions and extension not in self.settings.extensions:
            raise NotPermittedError(f"extension {extension} may not be controlled from amoCRM")
        return body, self.control, extension

    def _authenticate(self, request: web.Request) -> None:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), self.settings.token.get().encode()) or not sent:
            raise web.HTTPUnauthorized(text="bad or missing widget token")

    def _extension(self, body: dict[str, Any]) -> str:
        if body.get("extension"):
            extension = str(body["extension"])
        elif body.get("user_id"):
            extension = self.users.extension_of(body["user_id"]) or ""
            if not extension:
                raise NotPermittedError(f"amoCRM user {body['user_id']} has no extension")
        else:
            raise BadRequest("name the employee: extension or user_id")
        if not EXTENSION.fullmatch(extension):
            raise BadRequest("extension must be digits")
        return extension


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadRequest("the body must be JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise BadRequest(f"{name} is required")
    return str(value)


def create_widget_app(
    settings: WidgetSettings,
    users: UserMap,
    control: CallControl | None,
    *,
    feed: WidgetFeed | None = None,
    cards: Cards | None = None,
    employees: Callable[[], list[dict[str, Any]]] = list,
) -> web.Application:
    """The widget's aiohttp sub-application."""
    routes = WidgetRoutes(settings, users, control, cards)
    app = web.Application(middlewares=[_cors(settings.allowed_origins), _errors])
    app.router.add_post("/originate", routes.originate)
    app.router.add_post("/hangup", routes.hangup)
    app.router.add_post("/transfer", routes.transfer)
    app.router.add_post("/card", routes.card)
    if feed is not None:
        live = LiveSocket(feed, settings.token.get, settings.allowed_origins, employees, users.extension_of)
        app.router.add_get("/live", live.handle)
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    return app


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


def _cors(origins: tuple[str, ...]) -> Any:
    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _allow(exc, origin, origins)  # a 401 must reach the widget's script, not a CORS error
            raise
        _allow(response, origin, origins)
        return response

    return cors


def _allow(response: web.StreamResponse, origin: str, origins: tuple[str, ...]) -> None:
    if origin and origin in origins and not response.prepared:  # a WebSocket has sent its headers
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"  # not CORS-safelisted
        response.headers["Vary"] = "Origin"


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    except TooManyCallsError as exc:  # a NotPermittedError, but one that passes: say when
        wait = str(max(1, math.ceil(exc.retry_after)))
        return web.json_response({"ok": False, "error": str(exc)}, status=429, headers={"Retry-After": wait})
    except NotPermittedError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=403)
    except CallNotFoundError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=404)
    except PbxUnavailableError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=503)
    except CallControlError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=409)

"""What the amoCRM call panel sees live: employees' presence and each call's pop-up, over a WebSocket.

The adapter's `on_live` hands every live event here (`WidgetFeed.publish`); the widget in the
employee's browser holds `wss://<public_url>/amocrm/widget/live` open. A browser cannot put a
header on a WebSocket, and a token in the URL would end up in proxies' logs, so the widget sends
`{"token", "user_id"}` as its first message; until that arrives (within `HELLO_TIMEOUT`) it gets
nothing. The Origin header must be one of `widget.allowed_origins` (a WebSocket is not bound by
CORS, so this check is what keeps other sites' pages out). Every subscriber has a bounded queue
(the oldest messages go first) and there are at most `MAX_SUBSCRIBERS` of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from connector import logs
from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.crm import Contact
from connector.errors import ConnectorError

log = logs.get_logger(__name__)

HELLO_TIMEOUT = 5.0  # seconds a new socket has to name its token and user
SEND_TIMEOUT = 10.0  # a browser that cannot take one message in this long is let go
MAX_SUBSCRIBERS = 500  # open panels at once (one per employee's tab)
QUEUE = 100  # messages a slow panel may fall behind before the oldest are dropped
RETRY = {"Retry-After": "30"}
MAX_POPUPS = 20  # calls one panel follows at once
MAX_CALLS = 2000  # calls remembered for presence; a call whose end was never seen goes first


class Presence:
    """Who is ringing or talking now, from the live events (bounded by `MAX_CALLS`)."""

    def __init__(self) -> None:
        self._calls: dict[str, dict[str, str]] = {}  # call id → extension → ringing / talking

    def apply(self, event: LiveEvent) -> None:
        """Fold one event into the table."""
        if event.kind is LiveKind.ENDED and event.exten is None:
            self._calls.pop(event.call_id, None)  # the tracker ends the whole conversation at once
            return
        if event.exten is None:
            return
        legs = self._calls.setdefault(event.call_id, {})
        if event.kind is LiveKind.RINGING:
            legs.setdefault(event.exten, "ringing")
        elif event.kind in (LiveKind.ANSWERED, LiveKind.TRANSFERRED):
            # one employee talks to the client at a time (the tracker's legs): the others stop
            # ringing, and whoever had the client before (a transfer, attended ones included) is off
            legs.clear()
            legs[event.exten] = "talking"
        elif event.kind is LiveKind.ENDED:
            legs.pop(event.exten, None)
        if not legs:
            self._calls.pop(event.call_id, None)
        while len(self._calls) > MAX_CALLS:
            self._calls.pop(next(iter(self._calls)))

    def busy(self, call_id: str) -> bool:
        """Whether anyone is still ringing or talking in call `call_id`."""
        return call_id in self._calls

    def snapshot(self) -> dict[str, str]:
        """Extension → "ringing" or "talking" (talking wins); idle extensions are absent."""
        states: dict[str, str] = {}
        for legs in self._calls.values():
            for ext, state in legs.items():
                if states.get(ext) != "talking":
                    states[ext] = state
        return states


@dataclass(eq=False)  # kept in a set by identity
class _Subscriber:
    extension: str | None
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    calls: dict[str, None] = field(default_factory=dict)  # calls this panel has a pop-up for

    def follows(self, event: LiveEvent) -> bool:
        """Whether the panel gets `event` itself: its employee is named, or it shows the call."""
        if self.extension is not None and self.extension in (event.exten, event.from_exten):
            self.calls[event.call_id] = None
            while len(self.calls) > MAX_POPUPS:
                self.calls.pop(next(iter(self.calls)))
            return True
        return event.call_id in self.calls

    def offer(self, message: dict[str, Any] | None) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(message)


class WidgetFeed:
    """Fan-out of call events and presence to the open call panels; `publish` never blocks."""

    def __init__(self) -> None:
        self.presence = Presence()
        self._subscribers: set[_Subscriber] = set()

    @property
    def subscribers(self) -> int:
        """How many panels are connected now."""
        return len(self._subscribers)

    def publish(self, event: LiveEvent, caller: Mapping[str, Any] | None = None) -> None:
        """Update presence everywhere; the call itself (and who the client is) goes only to the
        panels of the employees concerned (ringing at, answered by, transferred to or from), and
        its later events (answered elsewhere, ended) to every panel that shows it."""
        self.presence.apply(event)
        presence = {"type": "presence", "presence": self.presence.snapshot()}
        call = {**presence, "type": "call", "event": event.to_dict(), "caller": dict(caller or {})}
        for sub in self._subscribers:
            sub.offer(call if sub.follows(event) else presence)
            if event.kind is LiveKind.ENDED:
                sub.calls.pop(event.call_id, None)

    @contextlib.asynccontextmanager
    async def subscribe(self, extension: str | None) -> AsyncIterator[_Subscriber]:
        """A panel's subscription while the `async with` block lasts."""
        sub = _Subscriber(extension)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """End every panel's stream (at shutdown)."""
        for sub in self._subscribers:
            sub.offer(None)


Employees = Callable[[], list[dict[str, Any]]]
ExtensionOf = Callable[[Any], "str | None"]


class LiveSocket:
    """GET /live: the WebSocket a call panel keeps open."""

    def __init__(
        self,
        feed: WidgetFeed,
        token: Callable[[], str],
        origins: tuple[str, ...],
        employees: Employees,
        extension_of: ExtensionOf,
    ) -> None:
        self.feed = feed
        self.token = token
        self.origins = origins
        self.employees = employees
        self.extension_of = extension_of

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Check the origin, upgrade, wait for the hello, then stream."""
        origin = request.headers.get("Origin", "")
        if origin not in self.origins:
            raise web.HTTPForbidden(text="this origin may not open the call panel's socket")
        if self.feed.subscribers >= MAX_SUBSCRIBERS:
            raise web.HTTPServiceUnavailable(text="too many call panels are open", headers=RETRY)
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        user_id = await self._hello(ws)
        if user_id is None:
            await ws.close(code=4401, message=b"bad or missing widget token")
            return ws
        extension = self.extension_of(user_id)
        async with self.feed.subscribe(extension) as sub:
            await ws.send_json(self._welcome(user_id, extension))
            await self._stream(ws, sub)
        return ws

    async def _hello(self, ws: web.WebSocketResponse) -> str | None:
        try:
            msg = await ws.receive(timeout=HELLO_TIMEOUT)
        except TimeoutError:
            return None
        if msg.type is not WSMsgType.TEXT:
            return None
        try:
            hello = json.loads(msg.data)
        except ValueError:
            return None
        if not isinstance(hello, dict):
            return None
        sent = str(hello.get("token") or "").encode()
        if not sent or not hmac.compare_digest(sent, self.token().encode()):
            return None
        return str(hello.get("user_id") or "")

    def _welcome(self, user_id: str, extension: str | None) -> dict[str, Any]:
        return {
            "type": "hello",
            "user_id": user_id,
            "extension": extension,
            "employees": self.employees(),
            "presence": self.feed.presence.snapshot(),
        }

    async def _stream(self, ws: web.WebSocketResponse, sub: _Subscriber) -> None:
        sender = asyncio.create_task(_send_loop(ws, sub))
        try:
            async for msg in ws:  # the panel sends nothing more; this notices it leave
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender


async def _send_loop(ws: web.WebSocketResponse, sub: _Subscriber) -> None:
    while True:
        message = await sub.queue.get()
        if message is None:
            await ws.close()
            return
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.send_str(json.dumps(message, ensure_ascii=False))
        except (TimeoutError, ConnectionError):
            log.info("amocrm.widget.panel_gone", extension=sub.extension)
            await ws.close()
            return


Lookup = Callable[[str], Awaitable["Contact | None"]]
LOOKUP_TIMEOUT = 3.0  # a pop-up shows "new number" rather than wait longer for amoCRM
STALE_AFTER = 300.0  # seconds: an event replayed after a restart pops nothing up
MAX_CALLERS = 500


class WidgetLive:
    """The adapter's `on_live`: presence always; the caller's name and card once per call."""

    def __init__(self, lookup: Lookup, clock: Callable[[], float] = time.time) -> None:
        self.feed = WidgetFeed()
        self._lookup = lookup
        self._clock = clock
        self._callers: dict[str, dict[str, Any]] = {}

    async def on_live(self, event: LiveEvent) -> None:
        """Publish `event` to the panels (stale ones only move presence)."""
        if self._clock() - event.at.timestamp() > STALE_AFTER:
            self.feed.presence.apply(event)
            return
        caller = await self._caller(event) if self.feed.subscribers else {}
        self.feed.publish(event, caller)
        if event.kind is LiveKind.ENDED and not self.feed.presence.busy(event.call_id):
            self._callers.pop(event.call_id, None)

    async def _caller(self, event: LiveEvent) -> dict[str, Any]:
        if event.direction is Direction.INTERNAL or not event.client:
            return {}
        known = self._callers.get(event.call_id)
        if known is not None:
            return known
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                contact = await self._lookup(event.client)
        except (TimeoutError, ConnectorError) as exc:
            log.info("amocrm.widget.lookup_failed", call_id=event.call_id, reason=str(exc))
            return {}  # not remembered: the next event of the call tries again
        found = _card(contact)
        self._callers[event.call_id] = found
        while len(self._callers) > MAX_CALLERS:
            self._callers.pop(next(iter(self._callers)))
        return found


def _card(contact: Contact | None) -> dict[str, Any]:
    if contact is None:
        return {"known": False}
    return {"known": True, "name": contact.name, "kind": contact.kind, "id": contact.id, "url": contact.url}

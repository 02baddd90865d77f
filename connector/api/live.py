"""Live call events for screen pop: an in-process hub and the WebSocket that serves it.

The service publishes each `LiveEvent` from the tracker with `hub.publish(event)`, which never
blocks the AMI reader: every subscriber has a bounded queue and a slow browser loses its oldest
events rather than growing memory. `/api/live` streams the events for the caller's extension
as JSON, optionally enriched (the built-in CRM adds the caller's client card), and the
`Broadcast`s meant for every signed-in person (the CRM's company feed) on the same socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from connector import logs
from connector.api.auth import Principal, require, same_origin
from connector.calls.model import LiveEvent, LiveKind

log = logs.get_logger(__name__)

Enricher = Callable[[LiveEvent, Principal], Awaitable[dict[str, Any]]]
ENRICH_KEY: web.AppKey[Enricher] = web.AppKey("live_enricher")
SEND_TIMEOUT = 10.0  # a browser that cannot take one message in this long is disconnected
SESSION_RECHECK = 60.0  # seconds: a stream of a signed-out or expired session ends within this


@dataclass(frozen=True)
class Broadcast:
    """News for every signed-in person, not about one phone (the CRM's live feed, say).

    Sent as `{topic: payload}`; `extensions`, when given, limits it to people who may see those
    extensions' calls (an employee hears only their own calls); `people` to those employees.
    """

    topic: str
    payload: dict[str, Any]
    extensions: tuple[str, ...] | None = None
    people: tuple[int, ...] | None = None  # only these employees (by id): a notification

    def visible_to(self, principal: Principal) -> bool:
        """Whether this person should hear it (service tokens never do: they follow phones)."""
        if not principal.is_person:
            return False
        if self.people is not None:
            return principal.employee_id in self.people
        scope = principal.scope
        return scope is None or self.extensions is None or any(x in scope for x in self.extensions)


Message = LiveEvent | Broadcast


class Subscription:
    """One listener's bounded queue of events; the oldest are dropped when it falls behind."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Message | None) -> None:
        """Queue `event` without waiting, dropping the oldest one when full."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Message | None:
        """The next event; None once the hub has closed."""
        return await self.queue.get()


class LiveHub:
    """Fan-out of live call events to in-process subscribers (WebSocket clients)."""

    def __init__(self, maxsize: int = 100) -> None:
        self.maxsize = maxsize
        self._subscribers: set[Subscription] = set()
        self._changed = asyncio.Condition()
        self.closed = False
        self._streams: dict[str, int] = {}  # open streams per session (or token)

    @contextlib.contextmanager
    def stream_slot(self, key: str, limit: int) -> Iterator[bool]:
        """Hold one of `key`'s `limit` stream slots for the block; yields False when none is free."""
        if self._streams.get(key, 0) >= limit:
            yield False
            return
        self._streams[key] = self._streams.get(key, 0) + 1
        try:
            yield True
        finally:
            left = self._streams[key] - 1
            if left:
                self._streams[key] = left
            else:
                del self._streams[key]

    def publish(self, event: Message) -> None:
        """Hand `event` to every subscriber; never blocks."""
        for sub in self._subscribers:
            sub.offer(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """A subscription for the duration of the `async with` block."""
        sub = Subscription(self.maxsize)
        if self.closed:
            sub.offer(None)
        self._subscribers.add(sub)
        await self._notify()
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_subscribers(self, count: int) -> None:
        """Return once at least `count` listeners are subscribed (for readiness checks and tests)."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._subscribers) >= count)

    async def wait_for_exactly(self, count: int) -> None:
        """Return once exactly `count` listeners are subscribed (a stream has gone, for tests)."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._subscribers) == count)

    @property
    def subscribers(self) -> int:
        """How many listeners there are now."""
        return len(self._subscribers)

    def close(self) -> None:
        """Tell every subscriber the stream has ended (at shutdown)."""
        self.closed = True
        for sub in self._subscribers:
            sub.offer(None)


def concerns(event: LiveEvent, principal: Principal, exten: str | None) -> bool:
    """Whether `event` is for this listener: its extension, or any allowed one for services."""
    if event.exten is None:
        return False
    if exten is not None:
        return event.exten == exten
    return principal.may_act_for(event.exten)


class _Told:
    """The calls a stream was told of (the newest `KEEP`): it hears their end, which names no phone."""

    KEEP = 64

    def __init__(self) -> None:
        self._calls: OrderedDict[str, None] = OrderedDict()

    def follows(self, event: LiveEvent, concerned: bool) -> bool:
        """Whether to send `event`: it concerns this stream, or ends a call the stream was told of."""
        if event.kind is LiveKind.ENDED and event.exten is None:
            if event.call_id not in self._calls:
                return False
            del self._calls[event.call_id]
            return True
        if concerned:
            self._calls[event.call_id] = None
            self._calls.move_to_end(event.call_id)
            while len(self._calls) > self.KEEP:
                self._calls.popitem(last=False)
        return concerned


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /api/live: the caller's live call events as JSON text messages.

    A browser always names the page that opens a WebSocket (Origin) and SameSite is the only
    other barrier, so a page of another site is refused here; each session (or token) may hold
    `http.live.max_per_session` streams at once.
    """
    from connector.api.app import HUB_KEY, SETTINGS_KEY, Problem
    from connector.config import HttpSettings

    settings = request.app[SETTINGS_KEY] if SETTINGS_KEY in request.app else HttpSettings()
    if not same_origin(request, extra=(settings.public_url, *settings.live.allowed_origins)):
        raise Problem(403, "Forbidden", "live events are not served to pages of another site")
    principal = await require(request)
    exten = request.query.get("exten")
    if exten is not None and not principal.may_act_for(exten):
        raise Problem(403, "Forbidden", f"this token may not follow extension {exten}")
    hub = request.app[HUB_KEY]
    with hub.stream_slot(principal.stream_key, settings.live.max_per_session) as free:
        if not free:
            limit = settings.live.max_per_session
            raise Problem(429, "Too Many Requests", f"at most {limit} live streams per session; close a tab")
        return await _stream(request, hub, principal, exten)


async def _stream(
    request: web.Request, hub: LiveHub, principal: Principal, exten: str | None
) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    enrich = request.app.get(ENRICH_KEY)
    async with hub.subscribe() as sub:
        tasks = [asyncio.create_task(_send_loop(ws, sub, principal, exten, enrich))]
        if principal.session is not None:
            tasks.append(asyncio.create_task(_watch_session(request, ws)))
        try:
            async for msg in ws:  # the browser sends nothing we need; this notices it leave
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return ws


async def _watch_session(request: web.Request, ws: web.WebSocketResponse) -> None:
    """End the stream once its session is gone (signed out elsewhere, expired, person deactivated)."""
    from connector.api.app import AUTH_KEY
    from connector.api.auth import COOKIE

    sessions = request.app[AUTH_KEY].sessions
    session_id = request.cookies.get(COOKIE, "")
    while sessions is not None and not ws.closed:
        await asyncio.sleep(SESSION_RECHECK)
        if await sessions(session_id) is None:
            log.info("live.session_ended")
            await ws.close()
            return


async def _send_loop(
    ws: web.WebSocketResponse,
    sub: Subscription,
    principal: Principal,
    exten: str | None,
    enrich: Enricher | None,
) -> None:
    told = _Told()
    while True:
        event = await sub.get()
        if event is None:
            await ws.close()
            return
        if isinstance(event, Broadcast):
            if not event.visible_to(principal):
                continue
            message: dict[str, Any] = {event.topic: event.payload}
        elif not told.follows(event, concerns(event, principal, exten)):
            continue
        else:
            message = {"event": event.to_dict()}
        if enrich is not None and isinstance(event, LiveEvent):
            try:
                message.update(await enrich(event, principal))
            except Exception:  # isolation: a failed lookup must not stop the stream
                log.exception("live.enrich_failed", call_id=event.call_id)
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.send_str(json.dumps(message, ensure_ascii=False))
        except (TimeoutError, ConnectionError):
            log.info("live.client_gone", subscriber=principal.name)
            await ws.close()
            return


def setup(app: web.Application, enrich: Enricher | None = None) -> None:
    """Mount GET /api/live on `app` (an enricher may add data such as the caller's card)."""
    if enrich is not None:
        app[ENRICH_KEY] = enrich
    if "live" not in app.router.named_resources():  # mounted once; a later call adds the enricher
        app.router.add_get("/api/live", websocket, name="live")

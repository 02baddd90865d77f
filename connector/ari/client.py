"""The ARI client: REST requests with timeouts and the /ari/events WebSocket, kept alive forever.

The same guarantees as the AMI client (`connector.ami.client`): it connects in the background,
hands every event in order to one synchronous callback, watches a silent socket with WebSocket
pings (a frozen Asterisk or a half-open socket is noticed within `ping_interval + ping_timeout`),
reconnects after an exponential backoff with jitter (a refused password waits `auth_retry`), and
after every connect hands the channels Asterisk has now (`/ari/channels`, `/ari/bridges`) to the
`on_session` hook as a `ChannelSnapshot`, shaped like AMI's CoreShowChannel items, so the feed
resynchronises the tracker exactly as after an AMI reconnect. The WebSocket is opened before the
lists are read: a channel that comes or goes meanwhile is in the list, in the events, or both.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from connector import logs
from connector.ami.client import AmiStatus, ChannelSnapshot, SessionHook, backoff_delay
from connector.ari.settings import AriSettings
from connector.calls.state import id_key
from connector.errors import ConnectorError

log = logs.get_logger(__name__)

AUTH_GRACE = 3
MAX_LIST = 100_000  # channels or bridges one list may hold before it is refused
MAX_REQUESTS = 16  # REST requests in flight at once (more wait for a free connection)
MAX_MESSAGE = 4 << 20  # bytes of one WebSocket message (a channel snapshot is ~1 kB)
_connections = itertools.count(1)
IDLE = 0.2  # seconds of silence after which held events are released (see `_watch`)
Json = Mapping[str, Any]
_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


class AriError(ConnectorError):
    """ARI could not be used."""


class AriConnectionError(AriError):
    """ARI is not reachable, or did not answer in time: nothing was done."""


class AriAuthError(AriError):
    """ARI refused the username or password (401)."""


class AriRequestError(AriError):
    """ARI refused a request (4xx/5xx); `status` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AriClient:
    """A self-healing ARI event socket plus REST; `start()` it, `request()`, `stop()` it."""

    def __init__(
        self,
        settings: AriSettings,
        on_event: Callable[[Json], None],
        *,
        on_session: SessionHook | None = None,
        on_idle: Callable[[], None] | None = None,
        jitter: Callable[[], float] = random.random,
        everything: bool = True,
    ) -> None:
        self.settings = settings
        self.everything = everything  # subscribeAll: every channel's events, not just the app's
        self.app = ""  # the application name the open socket registered ('' while closed)
        self._on_event = on_event
        self._on_session = on_session
        self._on_idle = on_idle
        self._jitter = jitter
        self.status = AmiStatus()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._lost_at: float | None = None
        self._auth = {"Authorization": basic_auth(settings.username, settings.password.get())}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._http is None:
            # bounded pool: call control's requests cannot pile up sockets on Asterisk
            # bounded pool: call control's requests cannot pile up sockets on Asterisk
            connector = aiohttp.TCPConnector(limit=MAX_REQUESTS)
            self._http = aiohttp.ClientSession(headers=self._auth, connector=connector)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ari-client")

    async def stop(self) -> None:
        """Close the socket and the HTTP session; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        self._set_connected(False)

    async def wait_connected(self, within: float) -> None:
        """Wait until the socket is open and resynchronised; `TimeoutError` if not in time."""
        async with asyncio.timeout(within):
            await self._connected.wait()

    @property
    def connected(self) -> bool:
        """Whether the event socket is open now."""
        return self._connected.is_set()

    # -- REST ----------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Json | None = None,
        *,
        within: float | None = None,
    ) -> Any:
        """One REST call (`path` below the ARI url); its JSON answer (None when empty).

        Raises `AriConnectionError` when ARI cannot be reached or answers too late,
        `AriAuthError` on 401 and `AriRequestError` on any other refusal.
        """
        http = self._http
        if http is None:
            raise AriConnectionError(f"{method} {path}: ARI is not started")
        url = self.settings.url.rstrip("/") + path
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout if within is None else within)
        try:
            async with http.request(method, url, params=params, json=body, timeout=timeout) as response:
                text = await response.text()
                if response.status == 401:
                    raise AriAuthError(f"ARI refused the user {self.settings.username!r} (401)")
                if response.status >= 400:
                    raise AriRequestError(
                        f"{method} {path}: {response.status} {_message(text)}", response.status
                    )
                return await response.json(content_type=None) if text.strip() else None
        except TimeoutError:
            raise AriConnectionError(f"{method} {path}: no answer from ARI in time") from None
        except aiohttp.ClientError as exc:
            raise AriConnectionError(f"{method} {path}: ARI is not reachable: {exc}") from exc

    async def snapshot(self, first: bool, *, within: float | None = None) -> ChannelSnapshot:
        """The channels alive now, as AMI CoreShowChannel items (Linkedid derived from bridges)."""
        channels = await self.request("GET", "/channels", within=within)
        bridges = await self.request("GET", "/bridges", within=within)
        if not isinstance(channels, list) or not isinstance(bridges, list):
            raise AriConnectionError("ARI's channel or bridge list is not a list")
        if len(channels) > MAX_LIST or len(bridges) > MAX_LIST:
            raise AriConnectionError("too many channels or bridges in ARI's lists")
        items = core_show_channels(channels, bridges, time.time())
        alive = frozenset(str(item["Uniqueid"]) for item in items) - {""}
        return ChannelSnapshot(tuple(items), alive, time.time(), first)

    # -- the supervisor ------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = refusals = 0
        while True:
            try:
                socket = await self._open()
            except AriAuthError as exc:
                failures += 1
                refusals += 1
                self._unavailable(str(exc), auth=True)
                persistent = refusals >= AUTH_GRACE
                await self._pause(self.settings.auth_retry if persistent else self._backoff(failures))
                continue
            except AriError as exc:
                failures += 1
                self._unavailable(str(exc))
                await self._pause(self._backoff(failures))
                continue
            failures = refusals = 0
            try:
                reason = await self._serve(socket)
            except Exception as exc:
                # Isolation boundary: a bug in one session must not end reconnecting for good.
                log.exception("ari.session_failed")
                reason = f"internal error: {exc!r}"
            finally:
                await socket.close()
            self._lost(reason)
            await self._pause(self._backoff(1))

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        http = self._http
        assert http is not None, "start() first"
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                suffix = f"{os.getpid()}-{next(_connections)}"
                socket = await http.ws_connect(
                    self.settings.events_url(suffix, everything=self.everything),
                    autoping=False,
                    max_msg_size=MAX_MESSAGE,
                )
                self.app = self.settings.app_name(suffix)
                return socket
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AriAuthError(
                    f"ARI refused the user {self.settings.username!r}: check ari.username and "
                    "ari.password (ari.conf, or the ARI users in MikoPBX's admin pages)"
                ) from None
            raise AriConnectionError(f"ARI events socket refused: {exc.status} {exc.message}") from None
        except TimeoutError:
            raise AriConnectionError(f"cannot connect to ARI at {self.settings.url}: timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise AriConnectionError(f"cannot connect to ARI at {self.settings.url}: {exc}") from exc

    async def _serve(self, socket: aiohttp.ClientWebSocketResponse) -> str:
        first = self.status.sessions == 0
        try:
            snapshot = await self.snapshot(first)
        except AriError as exc:
            return f"resync failed: {exc}"
        if self._on_session is not None:
            try:
                await self._on_session(snapshot)
            except Exception:
                log.exception("ari.resync_hook_failed", channels=len(snapshot.channels))
        self._back()
        return await self._watch(socket)

    async def _watch(self, socket: aiohttp.ClientWebSocketResponse) -> str:
        """Read events until the socket ends; a ping left unanswered means the link is dead.

        Every `IDLE` s of silence the `on_idle` hook runs (the translator releases events it
        held back); after `ping_interval` s of silence a ping goes out.
        """
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        # One read stays pending across silences: aiohttp's receive(timeout=) would mark the
        # socket as abnormally closed when it times out.
        reading: asyncio.Future[aiohttp.WSMessage] | None = None
        try:
            while True:
                if reading is None:
                    reading = asyncio.ensure_future(socket.receive())
                done, _ = await asyncio.wait({reading}, timeout=IDLE)
                if not done:
                    now = loop.time()
                    if self._on_idle is not None:
                        self._on_idle()
                    if pinged is not None and now - pinged >= self.settings.ping_timeout:
                        return f"no answer to a WebSocket ping within {self.settings.ping_timeout:g} s"
                    if pinged is None and now - heard >= self.settings.ping_interval:
                        await socket.ping()
                        pinged = now
                    continue
                message, reading = reading.result(), None
                heard, pinged = loop.time(), None
                reason = await self._handle(socket, message)
                if reason:
                    return reason
        finally:
            if reading is not None:
                reading.cancel()

    async def _handle(self, socket: aiohttp.ClientWebSocketResponse, message: aiohttp.WSMessage) -> str:
        """Act on one WebSocket message; why the socket ended ('' while it goes on)."""
        if message.type is aiohttp.WSMsgType.TEXT:
            self._event(message.data)
        elif message.type is aiohttp.WSMsgType.PING:
            await socket.pong(message.data)
        elif message.type in _CLOSED:
            return "ARI closed the events socket"
        elif message.type is aiohttp.WSMsgType.ERROR:
            return f"events socket error: {socket.exception()}"
        return ""

    def _event(self, data: str) -> None:
        try:
            event = _loads(data)
        except ValueError:
            log.warning("ari.bad_event", size=len(data))
            return
        name = str(event.get("type", ""))
        self.status.events += 1
        counts = self.status.event_counts
        if name in counts or len(counts) < 200:
            counts[name] = counts.get(name, 0) + 1
        try:
            self._on_event(event)
        except Exception:
            # The isolation boundary for the tracker: log the event, keep the socket.
            log.exception("ari.event_handler_failed", ari_event=name)

    # -- state changes, each logged once ------------------------------------------------------

    async def _pause(self, delay: float) -> None:
        self.status.retry_in = delay
        try:
            await asyncio.sleep(delay)
        finally:
            self.status.retry_in = None

    def _back(self) -> None:
        self.status.sessions += 1
        if self._lost_at is not None:
            self.status.reconnects += 1
            log.info("ari.restored", down_seconds=round(time.monotonic() - self._lost_at, 3))
        else:
            log.info("ari.connected", url=self.settings.url, app=self.settings.app)
        self._lost_at = None
        self.status.auth_failed = False
        self.status.last_error = ""
        self._set_connected(True)

    def _lost(self, reason: str) -> None:
        self._set_connected(False)
        self.app = ""
        self.status.last_error = reason
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning("ari.lost", reason=reason)

    def _unavailable(self, reason: str, *, auth: bool = False) -> None:
        self.status.last_error = reason
        self.status.auth_failed = auth
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning("ari.unavailable", reason=reason)
        else:
            log.debug("ari.reconnect_failed", reason=reason)

    def _set_connected(self, connected: bool) -> None:
        if connected != self.status.connected:
            self.status.since = time.time()
        self.status.connected = connected
        if connected:
            self._connected.set()
        else:
            self._connected.clear()

    def _backoff(self, failures: int) -> float:
        return backoff_delay(
            failures, self.settings.reconnect_min, self.settings.reconnect_max, self._jitter()
        )


def core_show_channels(channels: list[Any], bridges: list[Any], now: float) -> list[dict[str, str]]:
    """ARI's channel and bridge lists as AMI CoreShowChannel items.

    ARI names no linkedid: channels in one bridge share the oldest uniqueid among them, and
    the halves of a Local pair share theirs; any other channel is its own conversation.
    """
    bridge_of: dict[str, str] = {}
    group: dict[str, str] = {}
    for bridge in bridges:
        members = [str(m) for m in (bridge.get("channels") or ()) if isinstance(bridge, Mapping)]
        for member in members:
            bridge_of[member] = str(bridge.get("id", ""))
        if members:
            oldest = min(members, key=id_key)
            group.update(dict.fromkeys(members, oldest))
    by_name = {str(c.get("name", "")): str(c.get("id", "")) for c in channels if isinstance(c, Mapping)}
    items: list[dict[str, str]] = []
    for channel in channels:
        if not isinstance(channel, Mapping):
            continue
        uid, name = str(channel.get("id", "")), str(channel.get("name", ""))
        linkedid = group.get(uid, uid)
        if name.startswith("Local/") and name.endswith(";2"):
            one = by_name.get(name[:-1] + "1", "")
            linkedid = min((linkedid, group.get(one, one or linkedid)), key=id_key)
        caller, dialplan = channel.get("caller") or {}, channel.get("dialplan") or {}
        items.append(
            {
                "Event": "CoreShowChannel",
                "Channel": name,
                "Uniqueid": uid,
                "Linkedid": linkedid,
                "ChannelStateDesc": str(channel.get("state", "")),
                "CallerIDNum": str(caller.get("number", "")),
                "CallerIDName": str(caller.get("name", "")),
                "Context": str(dialplan.get("context", "")),
                "Exten": str(dialplan.get("exten", "")),
                "Application": str(dialplan.get("app_name", "")),
                "ApplicationData": str(dialplan.get("app_data", "")),
                "BridgeId": bridge_of.get(uid, ""),
                "Duration": _duration(channel.get("creationtime"), now),
            }
        )
    return items


def basic_auth(username: str, password: str) -> str:
    """The HTTP Basic `Authorization` value (ari.conf users log in so)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _duration(created: object, now: float) -> str:
    """Seconds since `created` as AMI's HH:MM:SS."""
    try:
        start = datetime.strptime(str(created), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return ""
    seconds = max(0, int(now - start))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _loads(data: str) -> dict[str, Any]:
    import json

    event = json.loads(data)
    if not isinstance(event, dict):
        raise ValueError("not an object")
    return event


def _message(text: str) -> str:
    """ARI's {"message": ...} error body, or the start of the text."""
    try:
        body = _loads(text)
    except ValueError:
        return text[:200]
    return str(body.get("message", ""))[:200]

"""The AMI client: one session at a time, kept alive forever, never blocking the loop.

It opens a session (connect, banner, login, filters), hands every event in order to one
synchronous callback, watches the session with Ping (a frozen Asterisk or a half-open socket is
noticed within `ping_interval + ping_timeout`), and when the session ends opens a new one after
an exponential backoff with jitter. A login refused `AUTH_GRACE` times in a row waits
`auth_retry` between tries, so a wrong password never hammers Asterisk's authentication (the
first refusals get the normal backoff: a booting Asterisk refuses logins for a moment). After
every login the channels Asterisk has now (`CoreShowChannels`) go to the `on_session` hook,
which resynchronises the tracker.

It logs once when AMI is lost and once when it is back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from connector import logs
from connector.ami.filters import default_filters
from connector.ami.protocol import Message
from connector.ami.session import ActionResult, AmiSession, Login
from connector.config import AmiSettings
from connector.errors import AmiActionError, AmiAuthError, AmiConnectionError

log = logs.get_logger(__name__)

AUTH_GRACE = 3
"""Login refusals in a row after which the credentials are taken to be wrong (not a booting Asterisk)."""


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """The channels alive in Asterisk right after a login.

    `channels` are the CoreShowChannel items; `alive` also holds the channels that appeared
    while the list was being read, so none of them is taken for gone.
    """

    channels: tuple[Message, ...]
    alive: frozenset[str]
    at: float
    first: bool  # the first session of this run (nothing was being tracked before it)


SessionHook = Callable[[ChannelSnapshot], Awaitable[None]]


@dataclass(slots=True)
class AmiStatus:
    """What `/healthz` and `/metrics` report about AMI."""

    connected: bool = False
    since: float | None = None  # wall time of the last change of `connected`
    last_error: str = ""
    auth_failed: bool = False
    sessions: int = 0
    reconnects: int = 0
    events: int = 0
    version: str = ""
    retry_in: float | None = None  # seconds the client waits before its next login attempt
    event_counts: dict[str, int] = field(default_factory=dict)


class AmiClient:
    """A self-healing AMI connection; `start()` it, `send()` actions, `stop()` it."""

    def __init__(
        self,
        settings: AmiSettings,
        on_event: Callable[[Message], None],
        *,
        on_session: SessionHook | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_session = on_session
        self._jitter = jitter
        self.status = AmiStatus()
        self._session: AmiSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._fresh: set[str] | None = None
        self._gone: set[str] | None = None  # hung up while the channel list was being read
        self._lost_at: float | None = None
        filters = settings.filters or default_filters()
        self._login = Login(settings.username, settings.secret.get(), settings.events, filters)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ami-client")

    async def stop(self) -> None:
        """Stop reading events, log off and close; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._set_connected(False)

    async def wait_connected(self, within: float) -> None:
        """Wait until a session is logged in and resynchronised; `TimeoutError` if not in time."""
        async with asyncio.timeout(within):
            await self._connected.wait()

    @property
    def connected(self) -> bool:
        """Whether a session is logged in now."""
        return self._connected.is_set()

    # -- actions -------------------------------------------------------------------------------

    async def send(
        self,
        action: str,
        headers: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        list_end: str | None = None,
        follow_event: str | None = None,
    ) -> ActionResult:
        """Send an action on the current session (see `AmiSession.request`).

        Raises `AmiConnectionError` at once when AMI is down: actions are never queued for a later
        session, where they might run twice or far too late.
        """
        session = self._session
        if session is None or session.closed.done():
            raise AmiConnectionError(f"{action}: AMI is not connected")
        return await session.request(
            action, headers, within=within, list_end=list_end, follow_event=follow_event
        )

    # -- the supervisor ------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = refusals = 0
        while True:
            try:
                session = await self._open()
            except AmiAuthError as exc:
                failures += 1
                refusals += 1
                self._auth_failed(exc, refusals)
                # A login refused right after a restart may be a booting Asterisk: the first
                # refusals get the normal backoff; a refusal that persists waits auth_retry.
                persistent = refusals >= AUTH_GRACE
                await self._pause(self.settings.auth_retry if persistent else self._backoff(failures))
                continue
            except (AmiConnectionError, AmiActionError) as exc:
                failures += 1
                self._unavailable(str(exc))
                await self._pause(self._backoff(failures))
                continue
            failures = refusals = 0
            try:
                reason = await self._serve(session)
            except Exception as exc:
                # Isolation boundary: a bug in one session must not end reconnecting for good.
                log.exception("ami.session_failed")
                reason = f"internal error: {exc!r}"
            self._lost(reason)
            await self._pause(self._backoff(1))

    async def _open(self) -> AmiSession:
        return await AmiSession.open(
            self.settings.host,
            self.settings.port,
            self._login,
            self._event,
            connect_timeout=self.settings.connect_timeout,
            action_timeout=self.settings.action_timeout,
        )

    async def _pause(self, delay: float) -> None:
        self.status.retry_in = delay
        try:
            await asyncio.sleep(delay)
        finally:
            self.status.retry_in = None

    async def _serve(self, session: AmiSession) -> str:
        """Run one session until it ends; return why it ended."""
        self._session = session
        try:
            first = self.status.sessions == 0
            await self._resync(first)
            if session.closed.done():
                return session.closed.result()  # lost during the resync: not back yet
            self._back(session)
            return await self._watch(session)
        finally:
            self._session = None
            session.abort("session ended")

    async def _watch(self, session: AmiSession) -> str:
        """Ping until the session ends; a Ping left unanswered means the link is dead."""
        while True:
            done, _ = await asyncio.wait({session.closed}, timeout=self.settings.ping_interval)
            if done:
                return session.closed.result()
            try:
                await session.request("Ping", within=self.settings.ping_timeout)
            except AmiActionError:
                reason = f"no answer to Ping within {self.settings.ping_timeout:g} s"
                session.abort(reason)
                return reason
            except AmiConnectionError:
                return session.closed.result()

    async def _resync(self, first: bool) -> None:
        """Hand the channels alive now to the hook; a failure there is logged, not fatal."""
        if self._on_session is None:
            return
        self._fresh, self._gone = set(), set()
        try:
            result = await self.send("CoreShowChannels", list_end="CoreShowChannelsComplete")
            # A channel listed but hung up before the list ended must not be adopted: its Hangup
            # has already gone by, so nothing would ever close it.
            gone = self._gone
            listed = tuple(item for item in result.events if item.get("Uniqueid", "") not in gone)
            alive = ({item.get("Uniqueid", "") for item in listed} | self._fresh) - gone
            snapshot = ChannelSnapshot(listed, frozenset(alive - {""}), time.time(), first)
        except (AmiActionError, AmiConnectionError) as exc:
            # the watch that follows sees a dead session at once and reconnects
            log.warning("ami.resync_failed", reason=str(exc))
            return
        finally:
            self._fresh, self._gone = None, None
        try:
            await self._on_session(snapshot)
        except Exception:
            log.exception("ami.resync_hook_failed", channels=len(snapshot.channels))

    # -- events --------------------------------------------------------------------------------

    def _event(self, message: Message) -> None:
        name = message.get("Event", "")
        self.status.events += 1
        counts = self.status.event_counts
        if name in counts or len(counts) < 200:  # bounded: event names are a small closed set
            counts[name] = counts.get(name, 0) + 1
        if self._fresh is not None and name == "Newchannel":
            self._fresh.add(message.get("Uniqueid", ""))
        if self._gone is not None and name == "Hangup":
            self._gone.add(message.get("Uniqueid", ""))
        self._on_event(message)

    # -- state changes, each logged once ------------------------------------------------------

    def _back(self, session: AmiSession) -> None:
        self.status.sessions += 1
        self.status.version = session.version
        if self._lost_at is not None:
            self.status.reconnects += 1
            log.info("ami.restored", down_seconds=round(time.monotonic() - self._lost_at, 3))
        else:
            log.info(
                "ami.connected", host=self.settings.host, port=self.settings.port, version=session.version
            )
        self._lost_at = None
        self.status.auth_failed = False
        self.status.last_error = ""
        self._set_connected(True)

    def _lost(self, reason: str) -> None:
        self._set_connected(False)
        self.status.last_error = reason
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning("ami.lost", reason=reason)
        else:
            log.debug("ami.session_ended_before_resync", reason=reason)  # still down: said already

    def _unavailable(self, reason: str) -> None:
        self.status.last_error = reason
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning("ami.unavailable", reason=reason)
        else:
            log.debug("ami.reconnect_failed", reason=reason)

    def _auth_failed(self, exc: AmiAuthError, refusals: int) -> None:
        if refusals == AUTH_GRACE:
            log.error("ami.login_refused", reason=str(exc), retry_seconds=self.settings.auth_retry)
        else:
            log.debug("ami.login_refused_once", reason=str(exc), refusals=refusals)
        self.status.auth_failed = True
        self.status.last_error = str(exc)
        if self._lost_at is None:
            self._lost_at = time.monotonic()

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


def backoff_delay(failures: int, low: float, high: float, jitter: float) -> float:
    """The wait before try `failures + 1`: doubling from `low` up to `high`, scaled by 0.5-1.0.

    The jitter (`jitter` in [0, 1)) keeps a fleet of daemons from reconnecting in step after
    an Asterisk restart.
    """
    ceiling = min(high, low * 2.0 ** min(max(failures, 1) - 1, 30))
    return ceiling * (0.5 + 0.5 * jitter)

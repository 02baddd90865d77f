"""Wiring of the daemon: staged start-up, staged shutdown, systemd notify and watchdog.

Start-up, in order: configuration (already loaded) → storage (the outbox) → HTTP (/healthz,
/metrics, the API) → adapters and their delivery workers → the call feed → AMI. Each stage
registers its own undo on an `AsyncExitStack`, so shutdown runs in reverse: AMI stops first
(no new work is read), the feed records what the tracker already produced, deliveries in
flight get `outbox.shutdown_grace` seconds to finish, then adapters, HTTP and storage close.
Calls still in progress are not closed at shutdown: their events are saved
(`connector.sync.inflight`: each as it comes to an append-only tail, checkpointed every few
seconds while running, for kill -9), replayed into the
tracker at the next start, and the first resync with Asterisk's channels closes those that ended
meanwhile, so each is recorded once, whole (DID, rings, answer), at its real end or as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import aiohttp
from aiohttp import web

from connector import logs
from connector.ami.actions import ActionSender
from connector.ami.agi import AgiServer
from connector.ami.cdr import CdrRecovery
from connector.ami.client import AmiClient, ChannelSnapshot
from connector.ami.feed import CallFeed
from connector.api import control as control_api
from connector.api import recordings
from connector.api.app import HUB_KEY
from connector.api.guard import ConnectionGuard, GuardedSite
from connector.api.health import HealthSources, setup_health
from connector.ari.client import AriClient
from connector.calls.model import Call, LiveEvent
from connector.calls.rules import rules_from_settings
from connector.calls.tracker import CallTracker
from connector.config import Settings, pbx_id
from connector.control import AmiSlot, CallControl
from connector.crm import Adapter
from connector.errors import AmiActionError, AmiConnectionError, ConnectorError, StorageError
from connector.offices import Offices
from connector.routing import ParallelInterceptor, start_interception
from connector.sdnotify import Notifier
from connector.sync import inflight, wiring
from connector.sync.dispatcher import Dispatcher, rate_limits
from connector.sync.outbox import Outbox

if TYPE_CHECKING:
    from connector.ami.protocol import Message

log = logs.get_logger(__name__)

EXPIRE_EVERY = 60.0  # seconds between checks for calls past max_call_seconds
STATUS_EVERY = 10.0  # seconds between STATUS= updates to systemd
ADAPTER_START = 10.0  # seconds an adapter may take to prepare before AMI starts anyway
HTTP_SHUTDOWN = 3.0  # seconds open HTTP requests (WebSockets) get on shutdown
INFLIGHT_EVERY = 2.0  # seconds between saves of the calls in progress (while they change)
EXIT_STORAGE = 3  # exit code when the outbox is damaged, vanished or unusable


class Service:
    """The running daemon's parts; `run()` drives it from start to stop."""

    def __init__(self, settings: Settings, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.pbx = pbx_id(settings)  # stamped on every call and live event (many PBXs, one CRM)
        self.notifier = notifier or Notifier()
        self.health = HealthSources()
        self.app: web.Application | None = None
        self.adapters: dict[str, Adapter] = {}
        # One link maker per process: with an empty link_secret each maker has a random key.
        self.links = recordings.links_from_settings(settings.http, settings.storage.recordings_dir)
        # Adapters and the HTTP app need call control before AMI is up: its sender is bound later.
        self.ami_slot = AmiSlot()
        self.offices = Offices(settings.offices)  # call control for other offices' extensions
        self.control = CallControl(
            self.ami_slot, settings.call_control, rules_from_settings(settings), offices=self.offices
        )
        self.health.control = self.control
        self.interceptor: AgiServer | ParallelInterceptor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        """Start every stage in order; each pushes its undo onto `stack`."""
        outbox = await self._storage(stack)
        self._build_adapters(stack, outbox)
        self.app = await self._http(stack)
        dispatcher = await self._adapters(stack, outbox)
        feed = await self._feed(stack, outbox)
        recovery = self._cdr_recovery(stack, outbox, feed)
        await self._ami(stack, feed, recovery)
        self.health.dispatcher = dispatcher
        self.health.stage = "running"

    # -- the stages ----------------------------------------------------------------------------

    async def _storage(self, stack: contextlib.AsyncExitStack) -> Outbox:
        self._stage("storage")
        outbox = await wiring.open_outbox(self.settings)
        stack.push_async_callback(outbox.close)
        stack.push_async_callback(self.offices.close)
        self.health.outbox = outbox
        return outbox

    async def _http(self, stack: contextlib.AsyncExitStack) -> web.Application:
        self._stage("http")
        app = create_http_app(self.settings, self.health, self.adapters, self.links, self.control)
        limits = self.settings.http.limits
        runner = web.AppRunner(
            app, handle_signals=False, shutdown_timeout=HTTP_SHUTDOWN, keepalive_timeout=limits.idle_timeout
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        # connection caps and the request-head deadline (connector.api.guard): AMI keeps its sockets
        self.http_guard = ConnectionGuard(limits)
        site = GuardedSite(runner, self.settings.http.host, self.settings.http.port, self.http_guard)
        try:
            await site.start()
        except OSError as exc:
            where = f"{self.settings.http.host}:{self.settings.http.port}"
            raise ConnectorError(f"cannot listen on {where} (http.host/http.port): {exc.strerror}") from exc
        log.info("http.listening", host=self.settings.http.host, port=self.settings.http.port)
        return app

    def _build_adapters(self, stack: contextlib.AsyncExitStack, outbox: Outbox) -> None:
        """Construct the adapters (no network yet) so the HTTP app can mount their routes."""
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10))
        stack.push_async_callback(session.close)
        self.adapters = wiring.build_adapters(
            _with_storage(self.settings),
            outbox,
            session,
            recording_url=self._crm_link,
            call_control=self.control,
        )
        stack.push_async_callback(wiring.close_adapters, self.adapters)

    def _crm_link(self, path: str) -> str:
        """A recording link for a CRM: it stays in the CRM's history, so it lives much longer."""
        return self.links.url(path, ttl=self.settings.http.crm_link_ttl)

    async def _adapters(self, stack: contextlib.AsyncExitStack, outbox: Outbox) -> Dispatcher:
        self._stage("adapters")
        await asyncio.gather(*(_start_adapter(name, a) for name, a in self.adapters.items()))
        dispatcher = Dispatcher(
            outbox, self.adapters, self.settings.outbox, limits=rate_limits(self.settings.adapters)
        )
        await dispatcher.start()
        stack.push_async_callback(dispatcher.stop, self.settings.outbox.shutdown_grace)
        return dispatcher

    async def _feed(self, stack: contextlib.AsyncExitStack, outbox: Outbox) -> CallFeed:
        adapters = list(self.adapters.values())

        async def record_call(call: Call) -> None:
            await outbox.record_call(dataclasses.replace(call, pbx=self.pbx), adapters)

        async def record_live(event: LiveEvent) -> None:
            await outbox.record_live(dataclasses.replace(event, pbx=self.pbx), adapters)

        feed = CallFeed(
            CallTracker(rules_from_settings(self.settings), clock=time.monotonic),
            record_call,
            record_live,
            self._publish,
        )
        # Calls in progress at the last stop (or crash) resume whole: DID, rings, answer.
        journal = inflight.path_in(self.settings.storage.dir)
        entries, mark = await asyncio.to_thread(inflight.load_with_mark, journal)
        feed.restore(entries)
        tail = inflight.Tail(inflight.tail_path(journal), mark)
        tail.open()
        stack.callback(tail.close)
        await _save_inflight(feed, journal, tail)  # the restored calls, checkpointed: tail emptied
        feed.on_kept = tail.append  # from now on each kept event is on disk before it has effects
        stack.push_async_callback(_save_inflight, feed, journal, tail)  # runs after feed.stop
        feed.start()
        stack.push_async_callback(feed.stop, self.settings.outbox.shutdown_grace)
        self._spawn(self._expire(feed), "tracker-expiry", stack)
        self._spawn(_keep_inflight(feed, journal, tail), "inflight-journal", stack)
        self.health.feed = feed
        return feed

    def _cdr_recovery(
        self, stack: contextlib.AsyncExitStack, outbox: Outbox, feed: CallFeed
    ) -> CdrRecovery | None:
        options = self.settings.ami.cdr_recovery
        if not options.enabled:
            return None
        adapters = list(self.adapters.values())

        async def record_call(call: Call) -> None:
            await outbox.record_call(dataclasses.replace(call, pbx=self.pbx), adapters)

        recovery = CdrRecovery(
            options,
            outbox.state("cdr"),
            record_call,
            feed.seen,
            feed.tracker.rules,
            journalled=outbox.journalled,
        )
        self._spawn(recovery.run(), "cdr-recovery", stack)
        return recovery

    async def _ami(
        self, stack: contextlib.AsyncExitStack, feed: CallFeed, recovery: CdrRecovery | None
    ) -> None:
        self._stage("ami")
        from_ami = self.settings.ari.events == "ami"  # else ARI feeds the tracker (`_ari`)

        async def on_session(snapshot: ChannelSnapshot) -> None:
            if from_ami:
                await feed.on_session(snapshot)
            if recovery is not None:
                recovery.wakeup.set()  # look for calls made while AMI was away

        client = AmiClient(self.settings.ami, feed.on_event if from_ami else _ignore, on_session=on_session)
        self.ami_slot.bind(client)
        client.start()
        stack.push_async_callback(client.stop)
        self.health.ami = client
        sender: ActionSender = client
        if self.settings.ari.used:
            sender = self._ari(stack, feed, recovery)
        self.interceptor = await start_interception(
            stack,
            self.settings.interception,
            self.adapters,
            sender,
            # phones.normalize takes a region (numbering.region) or a country code for it
            country_code=self.settings.numbering.region or self.settings.numbering.country_code,
        )

    def _ari(
        self, stack: contextlib.AsyncExitStack, feed: CallFeed, recovery: CdrRecovery | None
    ) -> ActionSender:
        """Start ARI (`ari:`): as the tracker's event source, for call control, or both.

        With `control: ari` call control, the expiry check and parallel interception act
        through ARI's REST calls (the returned sender); AMI stays connected either way.
        """
        from connector.ari.actions import AriActions
        from connector.ari.source import AriSource

        ari = self.settings.ari

        async def on_session(snapshot: ChannelSnapshot) -> None:
            await feed.on_session(snapshot)
            if recovery is not None:
                recovery.wakeup.set()

        if ari.events == "ari":
            # the translator's repeated headers (lists) are read by the tracker as AMI's are
            client = AriSource(ari, lambda event: feed.on_event(cast("Message", event)), on_session).client
        else:  # control only: the socket just registers the application (for user events)
            client = AriClient(ari, _ignore, everything=False)
        client.start()
        stack.push_async_callback(client.stop)
        self.health.ari = client
        if ari.control != "ari":
            return self.ami_slot
        actions = AriActions(client)
        self.ami_slot.bind(actions)
        return actions

    # -- helpers -------------------------------------------------------------------------------

    def _publish(self, event: LiveEvent) -> None:
        event = dataclasses.replace(event, pbx=self.pbx)
        if self.app is not None and HUB_KEY in self.app:
            self.app[HUB_KEY].publish(event)
        if isinstance(self.interceptor, ParallelInterceptor):
            self.interceptor.on_live(event)

    async def _expire(self, feed: CallFeed) -> None:
        while True:
            await asyncio.sleep(EXPIRE_EVERY)
            await feed.expire(datetime.now(UTC), self._alive_uniqueids)

    async def _alive_uniqueids(self) -> set[str] | None:
        """The uniqueids of the channels Asterisk has now (None when it cannot tell): a call whose
        channels are alive is never closed by its lifetime limit."""
        try:
            result = await self.ami_slot.send(
                "CoreShowChannels", list_end="CoreShowChannelsComplete", within=EXPIRE_EVERY / 2
            )
        except (AmiActionError, AmiConnectionError) as exc:
            log.info("tracker.expiry_postponed", reason=str(exc))
            return None
        return {str(item.get("Uniqueid", "")) for item in result.events} - {""}

    async def report_status(self) -> None:
        """Keep `systemctl status` telling the truth (AMI state, calls, outbox depth)."""
        while True:
            report = await self.health.report()
            ami = "AMI connected" if report["ami"]["connected"] else "AMI NOT connected"
            depth = report["outbox"]["depth"] if report["outbox"] else "?"
            calls = report["calls_in_progress"]
            self.notifier.status(f"{report['status']}: {ami}, {calls} call(s) in progress, outbox {depth}")
            await asyncio.sleep(STATUS_EVERY)

    def _spawn(self, coro: object, name: str, stack: contextlib.AsyncExitStack) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        stack.push_async_callback(_cancel, task)

    def _stage(self, stage: str) -> None:
        self.health.stage = f"starting {stage}"
        self.notifier.status(f"starting: {stage}")
        log.debug("service.stage", stage=stage)


def create_http_app(
    settings: Settings,
    health: HealthSources,
    adapters: Mapping[str, Adapter] | None = None,
    links: recordings.RecordingLinks | None = None,
    control: CallControl | None = None,
) -> web.Application:
    """The daemon's aiohttp application: health, metrics, live events, and each part's routes.

    Call control, the built-in CRM (pages, REST API, screen pop), signed recording links and
    each adapter's own routes (amoCRM widget, Bitrix24 webhook) are mounted here, before the app
    is frozen.
    """
    from adapters.builtin.routes import mount as mount_crm
    from connector.api import live
    from connector.api.app import create_app

    app = create_app(settings.http)
    setup_health(app, health)
    # The one link maker whose key signs what adapters send: the CRM's pages reuse it.
    recordings.setup(
        app, links or recordings.links_from_settings(settings.http, settings.storage.recordings_dir)
    )
    if control is not None:
        control_api.setup(app, control)
    if mount_crm(app, settings, call_control=control) is None:
        live.setup(app)
    for adapter in (adapters or {}).values():
        adapter.mount(app)
    return app


def _with_storage(settings: Settings) -> Settings:
    """The settings with the built-in CRM's database placed under `storage.dir` by default."""
    if "builtin" not in settings.adapters:
        return settings
    from adapters.builtin import with_storage

    adapters = dict(settings.adapters)
    adapters["builtin"] = with_storage(adapters["builtin"], settings.storage.dir)
    return dataclasses.replace(settings, adapters=adapters)


async def _start_adapter(name: str, adapter: Adapter) -> None:
    """Prepare one adapter; a CRM that is not ready must not stop the others (or AMI)."""
    try:
        async with asyncio.timeout(ADAPTER_START):
            await adapter.start()
    except (ConnectorError, TimeoutError) as exc:
        # Its jobs wait in the outbox until the CRM is back.
        log.warning("adapter.start_failed", adapter=name, error=str(exc) or "timed out")


def _ignore(event: object) -> None:
    """Events nobody reads here (the tracker is fed by the other source)."""


async def _save_inflight(feed: CallFeed, path: Path, tail: inflight.Tail) -> None:
    """Checkpoint the events of the calls in progress (and of calls not yet written) for the next
    start, then trim the tail to what came after (`upto` and the journal taken together)."""
    if await _checkpoint(feed, path, tail):
        log.info("service.inflight_saved", calls=feed.tracker.in_progress, upto=tail.mark)


async def _keep_inflight(feed: CallFeed, path: Path, tail: inflight.Tail) -> None:
    """Checkpoint the calls in progress whenever they change (at most every INFLIGHT_EVERY), so
    the tail stays short; each event is in the tail as it comes (kill -9 loses none)."""
    saved = -1
    while True:
        await asyncio.sleep(INFLIGHT_EVERY)
        if feed.events.changes != saved:
            saved = feed.events.changes
            await _checkpoint(feed, path, tail)


async def _checkpoint(feed: CallFeed, path: Path, tail: inflight.Tail) -> bool:
    upto = tail.mark  # taken with the journal, no await between: the tail past it is not in it
    entries = feed.journal()
    job = asyncio.ensure_future(asyncio.to_thread(inflight.save, path, entries, upto))
    try:
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            await job  # finish the write: the shutdown's own save must not race it on the file
            raise
    except StorageError as exc:
        log.error("service.inflight_not_saved", error=str(exc), calls=feed.tracker.in_progress)
        return False
    tail.trim(upto)  # on the loop: no append can slip between the rewrite and the rename
    return True


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _signals(stop: asyncio.Event) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def run(settings: Settings, notifier: Notifier | None = None) -> int:
    """Start the daemon, serve until SIGTERM/SIGINT, stop it in stages; the exit code."""
    service = Service(settings, notifier)
    stop = asyncio.Event()
    async with _signals(stop), contextlib.AsyncExitStack() as stack:
        stack.callback(service.notifier.close)
        watchdog = asyncio.create_task(service.notifier.keep_alive(), name="sd-watchdog")
        stack.push_async_callback(_cancel, watchdog)
        try:
            await service.start(stack)
        except ConnectorError as exc:
            log.error("service.start_failed", stage=service.health.stage, error=str(exc))
            service.notifier.stopping(f"failed to start: {exc}")
            # 3: the state on disk needs a person (a damaged outbox does not mend by restarting)
            return EXIT_STORAGE if isinstance(exc, StorageError) else 1
        status = asyncio.create_task(service.report_status(), name="sd-status")
        stack.push_async_callback(_cancel, status)
        service.notifier.ready("running")
        log.info("service.started", adapters=sorted(service.adapters), http_port=settings.http.port)
        await stop.wait()
        log.info("service.stopping")
        service.health.stage = "stopping"
        service.notifier.stopping()
    log.info("service.stopped")
    return 0

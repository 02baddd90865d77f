"""From AMI events to durable work: tracker in the reader's path, the outbox behind a queue.

The AMI reader calls `on_event` synchronously for every event; the pure tracker turns it into
live events (published at once to screen pop) and finished calls, which go into a bounded queue
that one writer task drains into the outbox. So the reader never waits for SQLite, and the
order of a conversation's records is kept.

After every AMI login `on_session` resynchronises the tracker with the channels Asterisk has:
channels it did not know are adopted from their `CoreShowChannel` snapshot (calls that were in
progress while the daemon restarted or AMI was down are picked up again), channels it knew take
the bridge the snapshot shows (a call answered while no daemon listened is answered), and calls whose
channels are all gone are closed as interrupted. Each call is thus recorded once: either at its
real end, or as interrupted when its end was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector import logs
from connector.ami.cdr import SeenLinkedids
from connector.ami.client import ChannelSnapshot
from connector.ami.protocol import Message
from connector.calls.model import Call, LiveEvent
from connector.calls.snapshot import Entry, EventLog
from connector.calls.tracker import CallTracker
from connector.errors import StorageError

log = logs.get_logger(__name__)

QUEUE_SIZE = 10_000
WRITE_ATTEMPTS = 5  # for unexpected errors; storage errors (disk full, locked) are retried until fixed
RETRY_MAX = 30.0  # seconds between attempts at most while the outbox cannot be written


@dataclass(slots=True)
class FeedStats:
    """Counters for /metrics."""

    calls: dict[str, int] = field(default_factory=dict)  # by disposition
    interrupted: int = 0
    live_events: int = 0
    adopted_channels: int = 0
    write_failures: int = 0
    dropped: int = 0
    live_skipped: int = 0  # live events not queued while the outbox could not be written
    blocked: str = ""  # why the outbox cannot be written now (disk full, ...); "" when it can


class CallFeed:
    """Owns the tracker and the writer task that records its output."""

    def __init__(
        self,
        tracker: CallTracker,
        record_call: Callable[[Call], Awaitable[Any]],
        record_live: Callable[[LiveEvent], Awaitable[Any]],
        publish: Callable[[LiveEvent], None] = lambda event: None,
        maxsize: int = QUEUE_SIZE,
    ) -> None:
        self.tracker = tracker
        self._record_call = record_call
        self._record_live = record_live
        self._publish = publish
        self.queue: asyncio.Queue[Call | LiveEvent] = asyncio.Queue(maxsize)
        self.stats = FeedStats()
        self.seen = SeenLinkedids()  # for CDR recovery: conversations AMI showed
        self.events = EventLog()  # the events of calls in progress, for a restart
        # Each event the log keeps, written at once (the journal's tail, connector.sync.inflight):
        # set after `restore`, so replayed events are not written again.
        self.on_kept: Callable[[Entry], None] = lambda entry: None
        self._writer: asyncio.Task[None] | None = None

    # -- the AMI side (synchronous, never waits) ----------------------------------------------

    def on_event(self, event: Message) -> None:
        """Feed one AMI event to the tracker and pass on what it produced."""
        self.seen.add(event.get("Linkedid", ""))
        self._emit(self.tracker.feed(event))
        self._keep(event, None)

    async def on_session(self, snapshot: ChannelSnapshot) -> None:
        """Resynchronise the tracker with the channels alive in Asterisk now."""
        at = datetime.fromtimestamp(snapshot.at, UTC)
        known = {channel.uniqueid for channel in self.tracker.alive_channels()}
        listed = [c for c in snapshot.channels if c.get("Uniqueid")]
        adopted = [c for c in listed if c["Uniqueid"] not in known]
        # Known channels too: what happened to them while the daemon was away (answered, bridged,
        # moved to another bridge) is only in the snapshot now.
        for channel in listed:
            self.seen.add(channel.get("Linkedid", ""))
            self._emit(self.tracker.feed(channel, at))
            self._keep(channel, snapshot.at)
        closed = self.tracker.close_missing(snapshot.alive, at)
        self._emit(closed)
        self.stats.adopted_channels += len(adopted)
        log.info(
            "ami.resynchronised",
            alive=len(snapshot.alive),
            adopted=len(adopted),
            closed_interrupted=[call.id for call in closed],
        )

    async def expire(
        self, now: datetime, alive: Callable[[], Awaitable[Collection[str] | None]] | None = None
    ) -> None:
        """Close calls silent past their lifetime (called periodically). With `alive` (what
        channels Asterisk has now, None when it cannot tell), asked only when some call is due, a
        call whose channels are alive is kept, and nothing is closed while Asterisk cannot tell."""
        if alive is not None and self.tracker.expiry_due(now):
            living = await alive()
            if living is None:
                return  # AMI is away: the resync after it comes back closes what is gone
            self._emit(self.tracker.expire(now, living))
            return
        self._emit(self.tracker.expire(now))
        self.events.prune(self.tracker.by_linkedid)

    # -- calls in progress across a restart (connector.calls.snapshot) --------------------------

    def journal(self) -> list[Entry]:
        """The events of every call in progress or not yet written, to save for the next start."""
        self.events.prune(self.tracker.by_linkedid)
        return self.events.journal(self.tracker.by_linkedid)

    def restore(self, entries: list[Entry]) -> int:
        """Replay a saved journal into the (fresh) tracker before AMI starts; calls restored.

        Live events it produces were sent before the restart and are not sent again; a call the
        journal shows finished (its write was cut short) is recorded now. Calls whose channels
        are gone are closed by the first resync, once.
        """
        with self.tracker.replaying():  # past events: their stamps are history, not now
            for at, event in entries:
                self.seen.add(str(event.get("Linkedid", "")))
                when = datetime.fromtimestamp(at, UTC) if at is not None else None
                produced = self.tracker.feed(event, when)
                self._emit([item for item in produced if isinstance(item, Call)])
                self.events.add(event, at, self.tracker.by_linkedid)
        restored = self.tracker.in_progress
        log.info("feed.restored", events=len(entries), calls_in_progress=restored)
        return restored

    def _keep(self, event: Message, at: float | None) -> None:
        if self.events.add(event, at, self.tracker.by_linkedid):
            kept: dict[str, str | list[str]] = dict(event)
            self.on_kept((at, kept))

    def _emit(self, items: list[Call | LiveEvent] | list[Call]) -> None:
        for item in items:
            if isinstance(item, LiveEvent):
                self.stats.live_events += 1
                self._publish(item)
            else:
                key = item.disposition.value
                self.stats.calls[key] = self.stats.calls.get(key, 0) + 1
                self.stats.interrupted += item.interrupted
                self.events.hold(item)  # its events stay in the journal until it is written
            self._enqueue(item)

    def _enqueue(self, item: Call | LiveEvent) -> None:
        if self.stats.blocked and isinstance(item, LiveEvent):
            # Keep the bounded memory for finished calls while the disk is full: a live event was
            # already shown (published above) and is stale by the time space returns.
            self.stats.live_skipped += 1
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # The outbox has been stuck for QUEUE_SIZE records: keep the reader alive, and keep
            # the call in the log so it can be re-entered by hand.
            self.stats.dropped += 1
            record = item.to_dict()
            log.error("feed.backlog_full", kind=type(item).__name__, record=record)

    # -- the writer ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer task."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="feed-writer")

    async def stop(self, grace: float) -> None:
        """Let the writer record what is queued within `grace` seconds, then cancel it."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self.queue.join()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        while not self.queue.empty():
            # Past the grace: leave every unwritten record in the log so it can be re-entered.
            item = self.queue.get_nowait()
            log.error("feed.unwritten_at_shutdown", kind=type(item).__name__, record=item.to_dict())

    async def _write_all(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                await self._write(item)
            finally:
                self.queue.task_done()

    async def _write(self, item: Call | LiveEvent) -> None:
        """Write `item`; storage errors (a full disk, a lock) are retried until they pass.

        Meanwhile the record waits here and later ones in the bounded queue, /healthz says
        unhealthy (`stats.blocked`), and nothing is dropped unless the queue itself overflows.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                if isinstance(item, Call):
                    await self._record_call(item)
                else:
                    await self._record_live(item)
            except StorageError as exc:
                if not self.stats.blocked:
                    log.error("feed.outbox_blocked", error=str(exc), queued=self.queue.qsize())
                self.stats.blocked = str(exc)
                await asyncio.sleep(min(RETRY_MAX, 0.5 * 2 ** min(attempt - 1, 10)))
                continue
            except Exception as exc:
                # Isolation boundary: an unexpected error must not kill the writer, or every
                # later call would pile up in the queue and be dropped.
                log.exception("feed.write_error", attempt=attempt, error=repr(exc))
                if attempt >= WRITE_ATTEMPTS:
                    self.stats.write_failures += 1
                    log.error("feed.write_gave_up", kind=type(item).__name__, record=item.to_dict())
                    return
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
                continue
            if self.stats.blocked:
                log.info("feed.outbox_unblocked", attempts=attempt, queued=self.queue.qsize())
                self.stats.blocked = ""
            if isinstance(item, Call):
                self.events.release(item)
                log.info(
                    "call.recorded",
                    call_id=item.id,
                    direction=item.direction.value,
                    client=item.client,
                    disposition=item.disposition.value,
                    answered_by=item.answered_by,
                    talk_seconds=round(item.talk_seconds),
                )
            return

"""The mailbox's two loops: fetching new letters from every connected mailbox, sending the queue.

Both are owned by `MailWorker` (started and stopped with the HTTP app that serves the CRM) and
both are bounded: a fetch round takes at most `mail_transport.BATCH` letters per mailbox, the
sender one letter at a time, and every wait has a timeout. A mailbox whose server offers IDLE has
a watcher task besides: it waits in IDLE (in a thread, re-issued every 29 minutes) and asks for
a fetch as soon as the server reports a new letter; while it waits, the periodic poll leaves that
mailbox alone. No IDLE, or IDLE failing, means polling (and the watcher retries with backoff).
Stopping is staged: no new work is claimed, the letter being sent and the round being fetched
finish within a grace period, what is left is cancelled. A server that fails is written into
the mailbox's status (shown to the admin) and logged once when it starts and once when it
recovers, never with the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.builtin.db import NotFoundError, Row
from adapters.builtin.mail_parse import parse_letter
from adapters.builtin.mail_store import Mail
from adapters.builtin.mail_transport import (
    MAX_LETTER_BYTES,
    Account,
    Fetched,
    IdleUnsupported,
    MailError,
    fetch_new,
    idle_wait,
    resolve_secret,
    send,
)
from connector import logs
from connector.errors import StorageError

log = logs.get_logger(__name__)

POLL_SECONDS = 60.0  # between fetch rounds; «Проверить почту» asks for one at once
CLOSED_WAIT = 1.0  # while the CRM's database is not open yet (the daemon is starting)
STOP_GRACE = 10.0  # seconds a stop lets the letter being sent and the round being fetched finish
IDLE_BACKOFF = (2.0, 300.0)  # a failing IDLE session is retried after 2 s, 4 s, … up to 5 min
MAX_ROUNDS = 20  # back-to-back rounds of one mailbox while it still has more (20 × 50 letters)
TOO_BIG = (
    f"[Письмо больше {MAX_LETTER_BYTES // (1024 * 1024)} МБ не загружено в CRM:"
    " откройте его в почтовом ящике.]"
)

Fetcher = Callable[[Account, str, int | None, int], Fetched]
Sender = Callable[[Account, bytes, str, list[str]], Awaitable[str]]
Idler = Callable[..., bool]  # mail_transport.idle_wait's shape


def imap_account(box: Row) -> Account:
    """The IMAP side of a mailbox row (with its secret)."""
    password = resolve_secret(box["secret"], box["secret_env"], box["secret_file"])
    return Account(box["imap_host"], int(box["imap_port"]), box["imap_security"], box["login"], password)


def smtp_account(box: Row) -> Account:
    """The SMTP side of a mailbox row (with its secret)."""
    password = resolve_secret(box["secret"], box["secret_env"], box["secret_file"])
    return Account(box["smtp_host"], int(box["smtp_port"]), box["smtp_security"], box["login"], password)


class MailWorker:
    """Fetches letters and sends the queue until stopped."""

    def __init__(
        self,
        mail: Mail,
        *,
        poll_seconds: float = POLL_SECONDS,
        fetcher: Fetcher = fetch_new,
        sender: Sender = send,
        idler: Idler | None = idle_wait,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mail = mail
        self.poll_seconds = poll_seconds
        self.fetcher = fetcher
        self.sender = sender
        self.clock = clock
        self.idler = idler
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._idling: dict[int, asyncio.Event] = {}  # set while the mailbox waits in IDLE
        self._no_idle: set[int] = set()  # mailboxes whose server does not offer IDLE: polled
        self._stopping = asyncio.Event()
        self._halts: dict[int, threading.Event] = {}  # ends a mailbox's IDLE thread within IDLE_TICK
        self._check = asyncio.Event()
        self._queued = asyncio.Event()
        self._failing: set[tuple[str, int]] = set()  # (side, mailbox) whose failure is logged already
        self._check_lock = asyncio.Lock()

    def start(self) -> None:
        """Start both loops (idempotent)."""
        if self._tasks:
            return
        for loop in (self._fetch_loop, self._send_loop):
            task = asyncio.create_task(loop(), name=f"mail.{loop.__name__.strip('_')}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop claiming work, let the work in hand finish within `grace`, then cancel the rest.

        A letter still being sent when the grace runs out stays leased and is sent again later.
        """
        self._stopping.set()
        self._end_idle()
        self._check.set()
        self._queued.set()
        tasks = list(self._tasks) + list(self._watchers.values())
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._watchers.clear()

    def idling(self, mailbox_id: int) -> asyncio.Event:
        """Set while the mailbox waits in IDLE (for the tests and the status)."""
        return self._idling.setdefault(mailbox_id, asyncio.Event())

    def queued(self) -> None:
        """A letter was queued: the sender looks now rather than at its next due time."""
        self._queued.set()

    def check_soon(self) -> None:
        """Ask for a fetch round now (over every mailbox); IDLE sessions start again with the
        mailboxes' current settings, and IDLE is tried again where it was refused."""
        self._no_idle.clear()
        self._end_idle()
        self._check.set()

    def _end_idle(self, mailbox_id: int | None = None) -> None:
        for key, halt in list(self._halts.items()):
            if mailbox_id in (None, key):
                halt.set()

    # -- fetching ------------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        everything = True
        while not self._stopping.is_set():
            if not self.mail.db.is_open:
                await asyncio.sleep(CLOSED_WAIT)
                continue
            try:
                boxes = await self.mail.mailboxes(enabled_only=True)
                self._watch(boxes)
                await self.check_all(boxes, skip_idling=not everything)
            except StorageError:
                pass  # the database is closing (the daemon stops) or unusable: the next round tells
            except Exception:  # isolation boundary: one bad letter or row must not stop the mail
                log.exception("mail.fetch_round_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._check.wait()
            everything = self._check.is_set()  # asked for (a mailbox connected or changed): every mailbox
            self._check.clear()

    async def check_all(self, boxes: list[Row] | None = None, *, skip_idling: bool = False) -> dict[int, int]:
        """One round over every enabled mailbox (those waiting in IDLE skipped if asked); new letters."""
        found = {}
        for box in boxes if boxes is not None else await self.mail.mailboxes(enabled_only=True):
            if self._stopping.is_set():
                break
            if skip_idling and self.idling(box["id"]).is_set():
                continue
            found[box["id"]] = await self.check(box["id"])
        return found

    # -- IDLE ----------------------------------------------------------------------------------

    def _watch(self, boxes: list[Row]) -> None:
        """One IDLE watcher per enabled mailbox that may offer IDLE; none for the others."""
        wanted = {int(b["id"]) for b in boxes} - self._no_idle if self.idler else set()
        for mailbox_id, task in list(self._watchers.items()):
            if mailbox_id not in wanted or task.done():
                self._end_idle(mailbox_id)  # a mailbox switched off leaves IDLE within a second
                task.cancel()
                del self._watchers[mailbox_id]
        for mailbox_id in wanted - set(self._watchers):
            self._watchers[mailbox_id] = asyncio.create_task(
                self._watcher(mailbox_id), name=f"mail.idle.{mailbox_id}"
            )

    async def _watcher(self, mailbox_id: int) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                news = await self._idle_once(mailbox_id)
                if news and not self._stopping.is_set():
                    await self.check(mailbox_id)
                failures = 0
                continue
            except IdleUnsupported as exc:
                self._no_idle.add(mailbox_id)
                log.info("mail.idle_unsupported", mailbox=mailbox_id, reason=str(exc))
                return
            except (StorageError, NotFoundError):
                return  # the database is closing, or the mailbox was removed
            except MailError as exc:
                error = str(exc)
            except Exception as exc:  # isolation boundary: this mailbox is polled meanwhile
                log.exception("mail.idle_crashed", mailbox=mailbox_id)
                error = type(exc).__name__
            failures += 1
            delay = min(IDLE_BACKOFF[1], IDLE_BACKOFF[0] * 2 ** (failures - 1)) * random.uniform(0.5, 1)
            log.info("mail.idle_failed", mailbox=mailbox_id, error=error, retry_in=round(delay, 1))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _idle_once(self, mailbox_id: int) -> bool:
        assert self.idler is not None
        box = await self.mail.mailbox(mailbox_id, with_secret=True)
        event, loop = self.idling(mailbox_id), asyncio.get_running_loop()
        halt = self._halts[mailbox_id] = threading.Event()
        if self._stopping.is_set():  # a stop began while the mailbox was read: do not start waiting
            halt.set()
        try:
            return await asyncio.to_thread(
                self.idler, imap_account(box), box["folder"], box["uidvalidity"], int(box["last_uid"]),
                stop=halt, on_idle=lambda: loop.call_soon_threadsafe(event.set),
            )  # fmt: skip
        finally:
            event.clear()
            if self._halts.get(mailbox_id) is halt:
                del self._halts[mailbox_id]

    async def check(self, mailbox_id: int) -> int:
        """Fetch a mailbox's new letters (rounds until none are left, bounded); how many were new."""
        async with self._check_lock:  # one IMAP session per mailbox at a time
            new = 0
            for _ in range(MAX_ROUNDS):
                got, more = await self._round(mailbox_id)
                new += got
                if not more:
                    break
            return new

    async def _round(self, mailbox_id: int) -> tuple[int, bool]:
        if self._stopping.is_set():
            return 0, False
        box = await self.mail.mailbox(mailbox_id, with_secret=True)
        try:
            account = imap_account(box)
            fetched = await asyncio.to_thread(
                self.fetcher, account, box["folder"], box["uidvalidity"], int(box["last_uid"])
            )
        except MailError as exc:
            self._failed("imap", box, str(exc))
            await self.mail.record_check(mailbox_id, str(exc))
            return 0, False
        self._recovered("imap", box)
        new = 0
        found = [(uid, raw, False) for uid, raw in fetched.letters]
        found += [(uid, raw, True) for uid, raw in fetched.skipped]
        for uid, raw, big in found:
            fallback = f"<uid{uid}.{fetched.uidvalidity}.{box['id']}@crm.invalid>"
            letter = await asyncio.to_thread(parse_letter, raw, fallback_id=fallback)
            if big:  # kept as a notice with its sender and subject, so it is not lost silently
                letter = dataclasses.replace(letter, body=TOO_BIG)
            new += await self.mail.save_incoming(mailbox_id, uid, letter) is not None
        await self.mail.record_check(
            mailbox_id, "", uidvalidity=fetched.uidvalidity, last_uid=fetched.last_uid
        )
        if new:
            log.info("mail.fetched", mailbox=box["address"], letters=new)
        return new, fetched.more

    # -- sending -------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while not self._stopping.is_set():
            if not self.mail.db.is_open:
                await asyncio.sleep(CLOSED_WAIT)
                continue
            try:
                busy = await self.send_due()
                due = None if busy else await self.mail.next_due()
            except StorageError:
                busy, due = False, None
            except Exception:  # isolation boundary: the queue keeps the letter; log and go on
                log.exception("mail.send_round_failed")
                busy, due = False, None
            if busy:
                continue
            wait = self.poll_seconds if due is None else max(0.0, min(due - self.clock(), self.poll_seconds))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._queued.wait()
            self._queued.clear()

    async def send_due(self) -> bool:
        """Send the next due letter, if any; whether there was one (none is claimed once stopping)."""
        if self._stopping.is_set():
            return False
        job = await self.mail.claim()
        if job is None:
            return False
        box = await self.mail.mailbox(job["mailbox_id"], with_secret=True)
        try:
            note = await self.sender(smtp_account(box), job["raw"].encode("ascii"), job["mail_from"],
                                     _recipients(job))  # fmt: skip
        except MailError as exc:
            self._failed("smtp", box, str(exc))
            state = await self.mail.failed(job, str(exc), permanent=exc.permanent)
            log.warning("mail.send_failed", letter=job["message_id"], attempt=job["attempts"], state=state)
            return True
        self._recovered("smtp", box)
        await self.mail.sent(job, note)
        log.info("mail.sent", letter=job["message_id"], attempt=job["attempts"])
        return True

    def _failed(self, side: str, box: Row, error: str) -> None:
        key = (side, int(box["id"]))
        if key not in self._failing:
            self._failing.add(key)
            log.warning(f"mail.{side}_unavailable", mailbox=box["address"], error=error)

    def _recovered(self, side: str, box: Row) -> None:
        key = (side, int(box["id"]))
        if key in self._failing:
            self._failing.discard(key)
            log.info(f"mail.{side}_recovered", mailbox=box["address"])


def _recipients(job: Row) -> list[str]:
    import json

    value: Any = json.loads(job["recipients"])
    return [str(v) for v in value]

"""The mailbox's two loops: fetching new letters from every connected mailbox, sending the queue.

Both are owned by `MailWorker` (started and stopped with the HTTP app that serves the CRM) and
both are bounded: a fetch round takes at most `mail_transport.BATCH` letters per mailbox, the
sender one letter at a time, and every wait has a timeout. A server that fails is written into
the mailbox's status (shown to the admin) and logged once when it starts and once when it
recovers, never with the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.builtin.db import Row
from adapters.builtin.mail_parse import parse_letter
from adapters.builtin.mail_store import Mail
from adapters.builtin.mail_transport import (
    MAX_LETTER_BYTES,
    Account,
    Fetched,
    MailError,
    fetch_new,
    resolve_secret,
    send,
)
from connector import logs
from connector.errors import StorageError

log = logs.get_logger(__name__)

POLL_SECONDS = 60.0  # between fetch rounds; «Проверить почту» asks for one at once
CLOSED_WAIT = 1.0  # while the CRM's database is not open yet (the daemon is starting)
MAX_ROUNDS = 20  # back-to-back rounds of one mailbox while it still has more (20 × 50 letters)
TOO_BIG = (
    f"[Письмо больше {MAX_LETTER_BYTES // (1024 * 1024)} МБ не загружено в CRM:"
    " откройте его в почтовом ящике.]"
)

Fetcher = Callable[[Account, str, int | None, int], Fetched]
Sender = Callable[[Account, bytes, str, list[str]], Awaitable[str]]


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mail = mail
        self.poll_seconds = poll_seconds
        self.fetcher = fetcher
        self.sender = sender
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
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

    async def stop(self) -> None:
        """Cancel both loops and wait for them; a letter being sent stays leased and is sent again."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def queued(self) -> None:
        """A letter was queued: the sender looks now rather than at its next due time."""
        self._queued.set()

    def check_soon(self) -> None:
        """Ask for a fetch round now."""
        self._check.set()

    # -- fetching ------------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        while True:
            if not self.mail.db.is_open:
                await asyncio.sleep(CLOSED_WAIT)
                continue
            try:
                await self.check_all()
            except StorageError:
                pass  # the database is closing (the daemon stops) or unusable: the next round tells
            except Exception:  # isolation boundary: one bad letter or row must not stop the mail
                log.exception("mail.fetch_round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._check.wait(), self.poll_seconds)
            self._check.clear()

    async def check_all(self) -> dict[int, int]:
        """One round over every enabled mailbox; new letters per mailbox."""
        found = {}
        for box in await self.mail.mailboxes(enabled_only=True):
            found[box["id"]] = await self.check(box["id"])
        return found

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
        while True:
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
                await asyncio.wait_for(self._queued.wait(), wait)
            self._queued.clear()

    async def send_due(self) -> bool:
        """Send the next due letter, if any; whether there was one."""
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

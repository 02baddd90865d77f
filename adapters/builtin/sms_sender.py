"""The SMS sender: works the durable queue at the provider's pace and follows each message's status.

One task, one request at a time (SMSC.ru refuses more than 15 at once), at most `rate`
messages a second (`Pacer`). For each due row: claim it (queued → sending, committed), send
it under its row id, record the answer. What the answer means decides the next step:

- taken → ``sent``, its status asked every `status_interval` seconds (longer each time) until
  final;
- refused for this message (bad number, forbidden text) → ``failed`` with the provider's words;
- refused for the account (credentials, money, blocked address) → back to ``queued`` and the
  sender rests (`park`); no money also pauses the mailings, with the reason shown;
- no clear answer (timeout, 5xx, "too many requests") → stays ``sending``; the status check
  asks the provider about that id: never seen → queued again, seen → sent.

`recover()` settles every row left in ``sending`` by a sender that was killed mid-request the
same way, before anything new goes out: a restart resumes a mailing and sends nobody anything
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from adapters.builtin.db import Row, now_iso
from adapters.builtin.sms_provider import (
    Delivery,
    SmsAuthError,
    SmsError,
    SmsFundsError,
    SmsNotSent,
    SmsProvider,
    SmsRejected,
    SmsUnsure,
)
from adapters.builtin.sms_settings import SmsSettings
from adapters.builtin.sms_store import SmsStore
from connector import logs
from connector.errors import StorageError

log = logs.get_logger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
SEND_BATCH = 50  # messages per round before the status checks get their turn
CHECK_BATCH = 20  # status questions per round
OPENING_WAIT = 1.0  # seconds between looks while the CRM's database is not open yet
UNSURE_WAIT = 20.0  # seconds before asking about a send whose answer was lost
MAX_CHECK_GAP = 600.0  # the longest wait between two status questions for one message
MAX_CHECKS = 40  # questions per message; after that it stays "sent"
PARK = {SmsAuthError: 300.0, SmsFundsError: 300.0}  # seconds of rest per account problem (else 60)


class Pacer:
    """At most `rate` requests a second: each waits for its slot (a token interval, no burst)."""

    def __init__(self, rate: float, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next request may go."""
        now = self.clock()
        slot = max(self._next, now)
        self._next = slot + self.interval
        if slot > now:
            await self.sleep(slot - now)


class SmsSender:
    """The one task that hands queued SMS to the provider and asks their statuses."""

    def __init__(
        self,
        sms: SmsStore,
        provider: SmsProvider,
        settings: SmsSettings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.sms = sms
        self.provider = provider
        self.settings = settings
        self.pacer = Pacer(settings.rate, clock, sleep)
        self.clock = clock
        self.problem = ""  # the account problem the sender is resting on, in Russian ('' = none)
        self._parked_until = 0.0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something new is queued (or a mailing resumed): look now rather than at the next tick."""
        self._wake.set()

    async def run(self, idle: float = 5.0) -> None:
        """Recover, then work until cancelled; sleeps `idle` seconds (or until woken) when idle."""
        recovered = False
        while True:
            if not self.sms.db.is_open:  # the daemon starts the web app before it opens the database
                await asyncio.sleep(OPENING_WAIT)
                continue
            try:
                if not recovered:
                    await self.recover()
                    recovered = True
                busy = await self.step()
            except (SmsError, StorageError) as exc:  # isolation: a surprise must not end the task
                log.warning("sms.step_failed", error=str(exc))
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(idle):
                        await self._wake.wait()
                self._wake.clear()

    async def step(self) -> bool:
        """One round: due sends, then due status checks; whether anything was done."""
        if self.clock() < self._parked_until:
            return False
        sent = await self.send_due(SEND_BATCH)
        checked = await self.check_due(CHECK_BATCH)
        await self.sms.finish_mailings()
        return sent + checked > 0

    async def recover(self) -> int:
        """Settle the rows a killed sender left in ``sending``; how many there were."""
        rows = await self.sms.in_flight(10_000)
        for row in rows:
            await self._settle(row)
        if rows:
            log.info("sms.recovered", messages=len(rows))
        return len(rows)

    async def send_due(self, limit: int) -> int:
        """Send up to `limit` due messages; how many were taken from the queue."""
        done = 0
        while done < limit and self.clock() >= self._parked_until:
            row = await self.sms.next_due(now_iso())
            if row is None:
                break
            done += 1
            if row["origin"] != "card" and await self.sms.opted_out(row["phone"]):
                await self.sms.fail(row["id"], "номер в списке отказа от рассылок", Delivery.SKIPPED)
                continue
            await self.pacer.wait()
            if await self.sms.claim(row["id"], self.settings.timeout + UNSURE_WAIT):
                await self._send(row)
        return done

    async def _send(self, row: Row) -> None:
        try:
            answer = await self.provider.send(row["id"], row["phone"], row["text"], row["sender"])
        except SmsUnsure as exc:
            await self.sms.unsure(row["id"], str(exc), UNSURE_WAIT)
        except SmsRejected as exc:
            await self.sms.fail(row["id"], str(exc))
        except SmsNotSent as exc:
            await self.sms.requeue(row["id"], str(exc))
            await self._park(exc)
        else:
            await self.sms.accepted(row["id"], answer, self.settings.status_interval)
            self._recovered()

    async def _park(self, exc: SmsNotSent) -> None:
        seconds = PARK.get(type(exc), 60.0)
        self._parked_until = self.clock() + seconds
        if self.problem != str(exc):
            log.warning("sms.provider_refused", error=str(exc), rest_seconds=seconds)
        self.problem = str(exc)
        if isinstance(exc, SmsFundsError):
            await self.sms.pause_all("недостаточно средств на счёте SMS-провайдера")

    def _recovered(self) -> None:
        if self.problem:
            log.info("sms.provider_ok")
        self.problem = ""

    async def check_due(self, limit: int) -> int:
        """Ask the status of up to `limit` messages whose time has come; how many were asked."""
        rows = await self.sms.due_checks(now_iso(), limit)
        for row in rows:
            await self._settle(row)
        return len(rows)

    async def _settle(self, row: Row) -> None:
        try:
            report = await self.provider.status(row["id"], row["phone"])
        except SmsUnsure as exc:
            if row["status"] == "sending":
                await self.sms.unsure(row["id"], str(exc), UNSURE_WAIT)
            else:
                await self.sms.check_later(row["id"], self._gap(row))
            return
        except SmsNotSent as exc:
            await self._park(exc)
            return
        if report.delivery is None:
            if row["status"] == "sending":  # the provider never got it: it may go again
                await self.sms.requeue(row["id"], "провайдер не получил сообщение, отправим снова")
            else:
                await self.sms.fail(row["id"], "провайдер не знает это сообщение")
            return
        gap = self._gap(row) if row["checks"] + 1 < MAX_CHECKS else None
        await self.sms.reported(row["id"], report, gap)

    def _gap(self, row: Row) -> float:
        return min(self.settings.status_interval * 2.0 ** min(int(row["checks"]), 6), MAX_CHECK_GAP)

"""The auto-dialer: one task that drives every running list through the call-control path.

For each running list it asks `dialer_plan.next_step` and does what it says: claim the next
number (committed with the call id it will get), then `CallControl.originate` it exactly like
click-to-call (the employee's phone rings first, then the client; the toll-fraud patterns, the
extension check and the rate limits apply); settle a dialled number from its call record, which
the built-in adapter files when the call ends; wait out the wrap-up pause. Outside the working
hours (`TrackerRules.working_hours`, the interception schedule) nothing is dialled.

A number left ``dialing`` by a killed daemon is settled the same way: its call id is looked up
in the call records, and only when there is neither a record nor a live channel with that id
well past the ring time is it marked failed. It is never dialled again blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from adapters.builtin.db import ConflictError, Row, iso
from adapters.builtin.dialer_plan import (
    Dial,
    Finish,
    ListState,
    Resolve,
    Wait,
    given_up,
    next_step,
    settle,
)
from adapters.builtin.dialer_store import DialerStore
from connector import logs
from connector.errors import AmiConnectionError, CallControlError, NotPermittedError, StorageError

log = logs.get_logger(__name__)

Now = Callable[[], datetime]
POLL = 2.0  # seconds between looks at the call records while a number is being dialled
OPENING_WAIT = 1.0  # seconds between looks while the CRM's database is not open yet
IDLE = 30.0  # the longest sleep when nothing is due (a wake() cuts it short)
PBX_RETRY = 30.0  # seconds before dialling again when the PBX did not take the originate
SOURCE = "dialer"  # the rate-limit key of the dialer's originates (per extension)


class Control(Protocol):
    """What the dialer uses of `connector.control.CallControl`."""

    settings: Any  # ring_seconds
    rules: Any  # working_hours

    async def originate(
        self, extension: str, number: str, *, source: str | None = None, conversation: str | None = None
    ) -> str:
        """Ring `extension`, then `number`, as call `conversation`."""
        ...

    def check_number(self, number: str) -> str:
        """The number as dialled, or `NotPermittedError`."""
        ...

    async def channels(self) -> list[Any]:
        """The channels Asterisk has now (each with a `linkedid`)."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Dialer:
    """Drives the running auto-dial lists; `run()` until cancelled, or `step()` from tests."""

    def __init__(self, store: DialerStore, control: Control, *, now: Now = _utc_now) -> None:
        self.store = store
        self.control = control
        self.now = now
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A list was started, resumed, skipped or «Дальше» pressed: look now."""
        self._wake.set()

    async def run(self) -> None:
        """Work until cancelled; a failing round is logged and the next one tried."""
        while True:
            try:
                # the daemon starts the web app (and so the dialer) before it opens the CRM's database
                opening = not self.store.db.is_open
                until = self.now() + timedelta(seconds=OPENING_WAIT) if opening else await self.step()
            except (StorageError, sqlite3.Error, ConflictError) as exc:  # a surprise must not end the task
                log.warning("dialer.step_failed", error=str(exc))
                until = None
            delay = IDLE if until is None else (until - self.now()).total_seconds()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(max(delay, 0.05), IDLE)):
                    await self._wake.wait()
            self._wake.clear()

    async def step(self) -> datetime | None:
        """One round over the running lists; when the next round is due (None: nothing due)."""
        due: list[datetime] = []
        for row in await self.store.running():
            until = await self.drive(await self.store.get(row["id"]))
            if until is not None:
                due.append(until)
        return min(due, default=None)

    async def drive(self, lst: Row) -> datetime | None:
        """One step of one list; when it wants to be looked at again."""
        now = self.now()
        entry = await self.store.in_flight(lst["id"])
        waiting = None if entry else await self.store.next_waiting(lst["id"], iso(now))
        state = ListState(
            pause_seconds=lst["pause_seconds"],
            hold=bool(lst["hold"]),
            next_at=_at(lst["next_at"]),
            in_flight=entry["call_id"] if entry else None,
            dialled_at=_at(entry["dialled_at"]) if entry else None,
            due=(_at(waiting["retry_at"]) or now) if waiting else None,
        )
        hours = getattr(self.control.rules, "working_hours", None)
        step = next_step(
            state, now, in_hours=hours is None or hours(now), ring_seconds=self.control.settings.ring_seconds
        )
        if isinstance(step, Resolve) and entry is not None:
            return await self._resolve(lst, entry, stale=step.stale, now=now)
        if isinstance(step, Wait):
            await self.store.note(lst["id"], step.why)
            return step.until
        if isinstance(step, Finish):
            await self.store.finish(lst["id"])
            log.info("dialer.done", list_id=lst["id"])
            return None
        if isinstance(step, Dial) and waiting is not None:
            return await self._dial(lst, waiting, now)
        return None

    async def _resolve(self, lst: Row, entry: Row, *, stale: bool, now: datetime) -> datetime | None:
        call = await self.store.call(entry["call_id"])
        if call is not None:
            ended = _at(call["ended_at"]) or now
            outcome = settle(
                call["disposition"], ended,
                attempts=entry["attempts"], max_attempts=lst["max_attempts"],
                retry_minutes=lst["retry_minutes"], pause_seconds=lst["pause_seconds"], streak=lst["streak"],
            )  # fmt: skip
            await self.store.record(entry, outcome, ended)
            log.info(
                "dialer.result", list_id=lst["id"], call_id=entry["call_id"], result=outcome.result.value
            )
            return now
        if not stale:
            return now + timedelta(seconds=POLL)
        try:
            live = [c for c in await self.control.channels() if c.linkedid == entry["call_id"]]
        except CallControlError:
            return now + timedelta(seconds=PBX_RETRY)  # cannot tell: ask again later, dial nothing
        if live:
            return now + timedelta(seconds=POLL)
        outcome = given_up(now, pause_seconds=lst["pause_seconds"])
        await self.store.record(entry, outcome, now, "звонок не оставил записи; номер не набирается повторно")
        log.warning("dialer.call_lost", list_id=lst["id"], call_id=entry["call_id"])
        return now

    async def _dial(self, lst: Row, entry: Row, now: datetime) -> datetime | None:
        extension = lst["extension"]
        if not extension:
            await self.store.update(
                lst["id"], {"state": "paused", "reason": "не назначен сотрудник с внутренним номером"}
            )
            return None
        try:
            self.control.check_number(entry["phone"])
        except NotPermittedError:
            await self.store.refuse(entry["id"], "номер не разрешён для звонков (защита от мошенничества)")
            return now
        call_id = f"crm-dial{entry['id']}.{entry['attempts'] + 1}.{int(time.time())}"
        if not await self.store.claim(entry["id"], lst["id"], call_id, iso(now)):
            return now
        try:
            await self.control.originate(extension, entry["phone"], source=SOURCE, conversation=call_id)
        except NotPermittedError as exc:  # the extension, call control off, or the rate limit
            wait = float(getattr(exc, "retry_after", PBX_RETRY))
            await self.store.unclaim(entry["id"], call_id, str(exc), iso(now + timedelta(seconds=wait)))
            if not hasattr(exc, "retry_after"):
                await self.store.update(
                    lst["id"], {"state": "paused", "reason": f"звонок не разрешён: {exc}"}
                )
                return None
            return now + timedelta(seconds=wait)
        except CallControlError as exc:
            if not isinstance(exc.__cause__, AmiConnectionError) and "no answer" in str(exc):
                # No answer in time: it may ring all the same. The call records will tell.
                await self.store.note(lst["id"], "АТС не ответила вовремя: ждём запись звонка")
                return now + timedelta(seconds=POLL)
            # Not connected, or Asterisk refused the action: nothing rang, the number waits.
            await self.store.unclaim(
                entry["id"], call_id, "АТС недоступна", iso(now + timedelta(seconds=PBX_RETRY))
            )
            await self.store.note(lst["id"], f"АТС недоступна: {exc}")
            return now + timedelta(seconds=PBX_RETRY)
        log.info("dialer.originate", list_id=lst["id"], entry_id=entry["id"], call_id=call_id)
        return now + timedelta(seconds=POLL)

    async def _pause(self, lst: Row, reason: str) -> None:
        await self.store.update(lst["id"], {"state": "paused", "reason": reason}, when=("running",))
        log.warning("dialer.paused", list_id=lst["id"], reason=reason)

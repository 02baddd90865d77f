"""The auto-dial list's decisions, pure: what to do next, and what a finished call means.

An auto-dial list ("обзвон", manual §2.4) rings its employee, then the client, one number at a
time; after each call a wrap-up pause the employee sets (0 s to 10 min, or "∞": wait for the
employee to press «Дальше»). Numbers nobody answered are tried again after `retry_minutes`,
at most `max_attempts` times. The worker (`dialer_worker`) asks `next_step` and carries the
answer out against the store and the PBX; everything here depends only on its arguments (the
clock included), so the tests drive whole lists with a fake clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_ENTRIES = 10_000  # numbers in one list (the manual sets no limit; a table must have one)
MAX_PAUSE = 600  # seconds of wrap-up pause
MAX_ATTEMPTS = 5  # calls to one number
MAX_RETRY_MINUTES = 24 * 60
NO_ANSWER_STREAK = 3  # no-answers in a row that pause the list: is the employee at their phone?
STALE_GRACE = 120.0  # seconds past the ring time a call with no record and no channel is given up


class Result(enum.StrEnum):
    """What became of one number (the entry's status once it is not waiting or dialling)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    SKIPPED = "skipped"


# The call record's disposition → the number's result.
_BY_DISPOSITION = {
    "answered": Result.ANSWERED,
    "busy": Result.BUSY,
    "no-answer": Result.NO_ANSWER,
    "missed": Result.NO_ANSWER,
    "cancelled": Result.NO_ANSWER,
    "failed": Result.FAILED,
}


@dataclass(frozen=True, slots=True)
class ListState:
    """What the next step of a running list depends on."""

    pause_seconds: int | None  # None: "∞", the employee presses «Дальше»
    hold: bool  # waiting for «Дальше»
    next_at: datetime | None  # the wrap-up pause ends (None: no pause running)
    in_flight: str | None  # the call id of the number being dialled
    dialled_at: datetime | None  # when that call was placed
    due: datetime | None  # the earliest moment a waiting number may be dialled (None: none left)


@dataclass(frozen=True, slots=True)
class Dial:
    """Claim and dial the next number now."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to do before `until` (None: until something changes: «Дальше», a call record)."""

    until: datetime | None
    why: str


@dataclass(frozen=True, slots=True)
class Resolve:
    """A number is being dialled: settle it from its call record (or the live channels)."""

    call_id: str
    stale: bool  # past the ring time and the grace: a call with no trace is given up


@dataclass(frozen=True, slots=True)
class Finish:
    """No number is left to dial: the list is done."""


Step = Dial | Wait | Resolve | Finish


def next_step(state: ListState, now: datetime, *, in_hours: bool, ring_seconds: int) -> Step:
    """The next thing a running list does."""
    if state.in_flight is not None:
        placed = state.dialled_at or now
        stale = (now - placed).total_seconds() > ring_seconds + STALE_GRACE
        return Resolve(state.in_flight, stale)
    if state.due is None:
        return Finish()
    if state.hold:
        return Wait(None, "ждёт «Дальше»")
    if state.next_at is not None and now < state.next_at:
        return Wait(state.next_at, "пауза после звонка")
    if now < state.due:
        return Wait(state.due, "ждёт повторного звонка")
    if not in_hours:
        return Wait(now + timedelta(minutes=1), "вне рабочего времени")
    return Dial()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished call's effect on its number and on the list."""

    result: Result
    retry_at: datetime | None  # the number is tried again then (None: it is final)
    next_at: datetime | None  # the wrap-up pause ends (None with `hold`: wait for «Дальше»)
    hold: bool
    pause_reason: str  # '' or why the list pauses itself


def settle(
    disposition: str,
    ended: datetime,
    *,
    attempts: int,
    max_attempts: int,
    retry_minutes: int,
    pause_seconds: int | None,
    streak: int,
) -> Outcome:
    """What the call record of the `attempts`-th call to a number means.

    `streak` counts the list's no-answers in a row before this one: the call records cannot tell
    an employee who did not pick up from a client who did not, so after `NO_ANSWER_STREAK` of
    them the list pauses and asks.
    """
    result = _BY_DISPOSITION.get(disposition, Result.FAILED)
    retry_at = None
    if result is Result.NO_ANSWER and attempts < max_attempts:
        retry_at = ended + timedelta(minutes=retry_minutes)
    reason = ""
    if result is Result.NO_ANSWER and streak + 1 >= NO_ANSWER_STREAK:
        reason = f"{NO_ANSWER_STREAK} звонка подряд без ответа: проверьте, отвечает ли телефон сотрудника"
    hold = pause_seconds is None
    next_at = None if hold else ended + timedelta(seconds=pause_seconds or 0)
    return Outcome(result, retry_at, next_at, hold, reason)


def given_up(now: datetime, *, pause_seconds: int | None) -> Outcome:
    """A call that left no record and no channel: failed, never redialled blindly."""
    hold = pause_seconds is None
    next_at = None if hold else now + timedelta(seconds=pause_seconds or 0)
    return Outcome(Result.FAILED, None, next_at, hold, "")


def check_settings(pause_seconds: int | None, retry_minutes: int, max_attempts: int) -> str:
    """'' when the list's settings are within the limits, else what is wrong (in Russian)."""
    if pause_seconds is not None and not 0 <= pause_seconds <= MAX_PAUSE:
        return f"пауза: от 0 до {MAX_PAUSE} секунд или «∞»"
    if not 1 <= retry_minutes <= MAX_RETRY_MINUTES:
        return f"повтор: от 1 до {MAX_RETRY_MINUTES} минут"
    if not 1 <= max_attempts <= MAX_ATTEMPTS:
        return f"попыток: от 1 до {MAX_ATTEMPTS}"
    return ""

"""The auto-dial list's decisions (`dialer_plan`), pure, with a fake clock: a whole list run
through `next_step` and `settle` as the worker does, and the cases that stop or hold it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from adapters.builtin.dialer_plan import (
    NO_ANSWER_STREAK,
    Dial,
    Finish,
    ListState,
    Resolve,
    Result,
    Wait,
    check_settings,
    given_up,
    next_step,
    settle,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RING = 30


@dataclass
class Number:
    phone: str
    answers: list[str]  # the disposition of each call to it, in order
    status: str = "pending"
    attempts: int = 0
    retry_at: datetime | None = None


@dataclass
class Sim:
    """A list kept in memory, stepped as `Dialer.drive` does; each call lasts `talk` seconds."""

    numbers: list[Number]
    pause: int | None = 20
    retry_minutes: int = 5
    max_attempts: int = 2
    talk: int = 10
    now: datetime = T0
    log: list[tuple[int, str, str]] = field(default_factory=list)  # (second, phone, result)
    dials: list[tuple[int, str]] = field(default_factory=list)
    state: ListState = field(default_factory=lambda: ListState(20, False, None, None, None, None))
    streak: int = 0
    paused: str = ""

    def waiting(self) -> Number | None:
        ready = [n for n in self.numbers if n.status == "pending" or (n.status == "no_answer" and n.retry_at)]
        return min(ready, key=lambda n: (n.retry_at or T0, n.retry_at is not None), default=None)

    def run(self, in_hours: bool = True, limit: int = 100) -> str:
        self.state = replace(self.state, pause_seconds=self.pause)
        flying: Number | None = None
        for _ in range(limit):
            nxt = None if flying else self.waiting()
            self.state = replace(self.state, due=(nxt.retry_at or self.now) if nxt else None)
            step = next_step(self.state, self.now, in_hours=in_hours, ring_seconds=RING)
            if isinstance(step, Finish) or self.paused:
                return self.paused or "done"
            if isinstance(step, Wait):
                if step.until is None:
                    return "hold"
                self.now = step.until
            elif isinstance(step, Dial) and nxt is not None:
                flying = nxt
                nxt.status, nxt.attempts, nxt.retry_at = "dialing", nxt.attempts + 1, None
                self.dials.append((self.second, nxt.phone))
                self.state = replace(self.state, in_flight=nxt.phone, dialled_at=self.now)
            elif isinstance(step, Resolve) and flying is not None:
                self.now += timedelta(seconds=self.talk)
                outcome = settle(
                    flying.answers[flying.attempts - 1], self.now,
                    attempts=flying.attempts, max_attempts=self.max_attempts,
                    retry_minutes=self.retry_minutes, pause_seconds=self.pause, streak=self.streak,
                )  # fmt: skip
                flying.status, flying.retry_at = outcome.result.value, outcome.retry_at
                self.streak = self.streak + 1 if outcome.result is Result.NO_ANSWER else 0
                self.paused = outcome.pause_reason
                self.log.append((self.second, flying.phone, outcome.result.value))
                self.state = replace(
                    self.state, in_flight=None, dialled_at=None, next_at=outcome.next_at, hold=outcome.hold
                )
                flying = None
        raise AssertionError("the list never finished")

    @property
    def second(self) -> int:
        return int((self.now - T0).total_seconds())


def test_a_list_runs_with_its_pause_and_retries_a_no_answer_after_n_minutes() -> None:
    sim = Sim(
        [
            Number("+79160000001", ["answered"]),
            Number("+79160000002", ["no-answer", "answered"]),
            Number("+79160000003", ["busy"]),
        ]
    )
    assert (sim.run(), sim.dials, sim.log) == (
        "done",
        # a call lasts 10 s, then 20 s of pause; the no-answer is dialled again 5 min after it ended
        [(0, "+79160000001"), (30, "+79160000002"), (60, "+79160000003"), (340, "+79160000002")],
        [
            (10, "+79160000001", "answered"),
            (40, "+79160000002", "no_answer"),
            (70, "+79160000003", "busy"),
            (350, "+79160000002", "answered"),
        ],
    )


def test_no_answer_is_final_after_the_last_attempt() -> None:
    sim = Sim([Number("+79160000001", ["no-answer", "no-answer"])], max_attempts=2)
    assert (sim.run(), [r for _, _, r in sim.log], sim.numbers[0].retry_at) == (
        "done",
        ["no_answer", "no_answer"],
        None,
    )


def test_an_endless_pause_holds_until_next_is_pressed() -> None:
    sim = Sim([Number("+79160000001", ["answered"]), Number("+79160000002", ["answered"])], pause=None)
    first = sim.run()
    sim.state = replace(sim.state, hold=False, next_at=sim.now)  # «Дальше»
    assert (first, sim.run(), [p for _, p in sim.dials]) == ("hold", "done", ["+79160000001", "+79160000002"])


def test_no_answers_in_a_row_pause_the_list_to_ask_about_the_employee() -> None:
    numbers = [Number(f"+7916000000{i}", ["no-answer"]) for i in range(1, 6)]
    sim = Sim(numbers, max_attempts=1)
    reason = sim.run()
    assert (len(sim.dials), "подряд без ответа" in reason) == (NO_ANSWER_STREAK, True)


def test_nothing_is_dialled_outside_working_hours() -> None:
    state = ListState(20, False, None, None, None, T0)
    assert next_step(state, T0, in_hours=False, ring_seconds=RING) == Wait(
        T0 + timedelta(minutes=1), "вне рабочего времени"
    )


def test_a_call_in_flight_is_resolved_not_redialled_and_gives_up_only_when_stale() -> None:
    state = ListState(20, False, None, "crm-dial1.1.1", T0, T0)
    fresh = next_step(state, T0 + timedelta(seconds=RING), in_hours=True, ring_seconds=RING)
    stale = next_step(state, T0 + timedelta(seconds=RING + 121), in_hours=True, ring_seconds=RING)
    lost = given_up(T0, pause_seconds=20)
    assert (fresh, stale, lost.result, lost.retry_at) == (
        Resolve("crm-dial1.1.1", False),
        Resolve("crm-dial1.1.1", True),
        Result.FAILED,
        None,
    )


def test_settings_outside_the_limits_are_refused_in_russian() -> None:
    assert [check_settings(*s) for s in ((None, 30, 2), (601, 30, 2), (20, 0, 2), (20, 30, 6))] == [
        "",
        "пауза: от 0 до 600 секунд или «∞»",
        "повтор: от 1 до 1440 минут",
        "попыток: от 1 до 5",
    ]

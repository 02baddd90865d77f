"""The dispatcher with the recording fake adapter: outcomes of each error kind, order, isolation, stop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connector.config import OutboxSettings
from connector.crm import JobKind
from connector.errors import AuthError, PermanentError, TransientError
from connector.sync.dispatcher import Dispatcher, owner_alive
from connector.sync.jobs import JobState, Settlement
from connector.sync.outbox import Outbox
from connector.sync.pool import Outcome
from connector.sync.ratelimit import RateLimit
from tests.fakes.recording_adapter import RecordingAdapter, context
from tests.unit.sync.conftest import make_call

FAST = OutboxSettings(
    max_attempts=4, backoff_min=0.01, backoff_max=0.02, lease_seconds=5, job_timeout=2, poll_seconds=30
)
HANG_GUARD = 20  # seconds: only stops a broken test from hanging the run; nothing is timed


class Outcomes:
    """Collects outcomes and lets a test await a condition on them."""

    def __init__(self) -> None:
        self.seen: list[Outcome] = []
        self.changed = asyncio.Event()

    def __call__(self, outcome: Outcome) -> None:
        self.seen.append(outcome)
        self.changed.set()

    async def until(self, condition: Callable[[list[Outcome]], bool]) -> None:
        async with asyncio.timeout(HANG_GUARD):
            while not condition(self.seen):
                self.changed.clear()
                await self.changed.wait()

    def results(self, result: str) -> list[Outcome]:
        return [o for o in self.seen if o.result == result]


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Outbox]:
    outbox = await Outbox.open(tmp_path / "o.db")
    yield outbox
    await outbox.close()


async def run(
    box: Outbox, adapters: list[RecordingAdapter], settings: OutboxSettings = FAST
) -> tuple[Dispatcher, Outcomes]:
    outcomes = Outcomes()
    dispatcher = Dispatcher(box, {a.name: a for a in adapters}, settings, listener=outcomes)
    await dispatcher.start()
    return dispatcher, outcomes


async def test_every_job_is_delivered_once_in_conversation_order(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    for n in range(10):
        await box.record_call(make_call(f"{n}.1"), [crm])
    dispatcher, _ = await run(box, [crm])
    async with asyncio.timeout(HANG_GUARD):
        await crm.wait_done(20)
    await dispatcher.stop()
    assert len(set(crm.done)) == len(crm.done) == 20
    for n in range(10):
        kinds = [kind for kind, key in crm.done if key.startswith(f"crm:{n}.1:")]
        assert kinds == [JobKind.LOG_CALL, JobKind.ATTACH_RECORDING]


async def test_call_recorded_while_workers_idle_is_delivered_without_polling(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    dispatcher, _ = await run(box, [crm])  # poll_seconds=30: only the wake-up can deliver it
    await box.record_call(make_call(recording=False), [crm])
    async with asyncio.timeout(HANG_GUARD):
        await crm.wait_done(1)
    await dispatcher.stop()
    assert crm.done == [(JobKind.LOG_CALL, "crm:1700000000.1:log_call")]


async def test_transient_error_is_retried_until_delivered(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.fail_next(TransientError("503 from the CRM"), times=2)
    await box.record_call(make_call(recording=False), [crm])
    dispatcher, outcomes = await run(box, [crm])
    await outcomes.until(lambda seen: any(o.result == "delivered" for o in seen))
    await dispatcher.stop()
    assert [o.result for o in outcomes.seen] == ["retry", "retry", "delivered"]
    assert outcomes.seen[-1].attempts == 3


async def test_permanent_error_dead_letters_with_the_crm_message(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.fail_next(PermanentError("Entity not found (263)"))
    await box.record_call(make_call(), [crm])
    dispatcher, outcomes = await run(box, [crm])
    await outcomes.until(bool)
    await dispatcher.stop()
    jobs = {j.kind: j for j in await box.jobs()}
    assert (jobs[JobKind.LOG_CALL].state, jobs[JobKind.LOG_CALL].last_error) == (
        JobState.DEAD,
        "Entity not found (263)",
    )
    assert jobs[JobKind.ATTACH_RECORDING].state is JobState.DEAD
    assert crm.done == []


async def test_job_failing_every_attempt_is_dead_lettered_at_the_limit(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.fail_next(TransientError("timeout"), times=FAST.max_attempts)
    await box.record_call(make_call(recording=False), [crm])
    dispatcher, outcomes = await run(box, [crm])
    await outcomes.until(lambda seen: any(o.result == "dead" for o in seen))
    await dispatcher.stop()
    [job] = await box.jobs()
    assert job.attempts == FAST.max_attempts
    assert job.last_error == f"gave up after {FAST.max_attempts} attempts: timeout"


async def test_auth_error_parks_the_adapter_without_spending_an_attempt(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.fail_next(AuthError("token revoked"))
    await box.record_call(make_call(recording=False), [crm])
    dispatcher, outcomes = await run(box, [crm])
    await outcomes.until(bool)
    health = dispatcher.health()["crm"]
    await dispatcher.stop()
    [job] = await box.jobs()
    assert (health.state, health.reason) == ("parked", "token revoked")
    assert (job.state, job.attempts) == (JobState.PENDING, 0)


async def test_unexpected_adapter_exception_is_retried_not_fatal(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.fail_next(KeyError("direction"))
    await box.record_call(make_call(recording=False), [crm])
    dispatcher, outcomes = await run(box, [crm])
    await outcomes.until(lambda seen: any(o.result == "delivered" for o in seen))
    await dispatcher.stop()
    assert "unexpected KeyError" in (outcomes.seen[0].error or "")


async def test_delivery_that_never_answers_is_cut_off_and_retried(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.hold = asyncio.Event()  # never set: the CRM never answers
    await box.record_call(make_call(recording=False), [crm])
    settings = OutboxSettings(
        backoff_min=30, backoff_max=60, lease_seconds=5, job_timeout=0.05, poll_seconds=30
    )
    dispatcher, outcomes = await run(box, [crm], settings)
    await outcomes.until(bool)
    await dispatcher.stop(grace=0)
    assert outcomes.seen[0].result == "retry"
    assert outcomes.seen[0].error == "no answer within 0.05 s"


async def test_a_stuck_crm_does_not_delay_another(box: Outbox) -> None:
    stuck = RecordingAdapter(context("stuck"))
    stuck.hold = asyncio.Event()
    healthy = RecordingAdapter(context("healthy"))
    for n in range(20):
        await box.record_call(make_call(f"{n}.1"), [stuck, healthy])
    dispatcher, _ = await run(box, [stuck, healthy])
    async with asyncio.timeout(HANG_GUARD):
        await healthy.wait_done(40)
    stuck_done = len(stuck.done)
    stuck.hold.set()
    await dispatcher.stop()
    assert stuck_done == 0


async def test_stop_hands_jobs_in_flight_back_with_the_attempt_refunded(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.hold = asyncio.Event()
    await box.record_call(make_call(recording=False), [crm])
    dispatcher, _ = await run(box, [crm])
    async with asyncio.timeout(HANG_GUARD):
        await crm.wait_started(1)
    await dispatcher.stop(grace=0)
    [job] = await box.jobs()
    assert (job.state, job.attempts) == (JobState.PENDING, 0)


async def test_failing_crm_is_marked_unavailable_then_recovered(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    crm.fail_next(TransientError("connection refused"), times=3)
    await box.record_call(make_call(recording=False), [crm])
    outcomes = Outcomes()
    states: list[str] = []

    def listener(outcome: Outcome) -> None:
        states.append(dispatcher.health()["crm"].state)  # as it stood when this outcome was known
        outcomes(outcome)

    dispatcher = Dispatcher(box, {"crm": crm}, FAST, listener=listener)
    await dispatcher.start()
    await outcomes.until(lambda seen: len(seen) >= 4)
    await dispatcher.stop()
    assert states == ["ok", "ok", "unavailable", "ok"]


async def test_jobs_left_by_a_killed_process_are_delivered_at_once_on_start(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    await box.record_call(make_call(recording=False), [crm])
    await box.claim("crm", "999999999-killed", lease_seconds=3600)  # no such pid on this host
    dispatcher, _ = await run(box, [crm])
    async with asyncio.timeout(HANG_GUARD):
        await crm.wait_done(1)
    await dispatcher.stop()
    assert crm.done == [(JobKind.LOG_CALL, "crm:1700000000.1:log_call")]


def test_owner_of_this_process_is_alive() -> None:
    assert owner_alive(f"{os.getpid()}-abc") is True


def test_owner_with_a_missing_pid_is_not_alive() -> None:
    assert owner_alive("999999999-abc") is False


async def test_rate_limit_of_an_adapter_sets_its_pool(box: Outbox) -> None:
    crm = RecordingAdapter(context("crm"))
    dispatcher = Dispatcher(box, {"crm": crm}, FAST, limits={"crm": RateLimit(2, 50, concurrency=1)})
    pool = dispatcher.pools["crm"]
    assert (pool.concurrency, pool.bucket is not None and pool.bucket.rate) == (1, 2)


class CountingOutbox(Outbox):
    """The real outbox, noting how many verdicts each commit of the ledger carried."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rounds: list[int] = []

    async def settle(self, owner: str, settlements: Sequence[Settlement], **kwargs: Any) -> Any:
        if settlements:
            self.rounds.append(len(settlements))
        return await super().settle(owner, settlements, **kwargs)


async def test_jobs_finished_together_are_settled_in_one_commit_not_one_each(tmp_path: Path) -> None:
    box = await CountingOutbox.open(tmp_path / "o.db")
    assert isinstance(box, CountingOutbox)
    crm = RecordingAdapter(context("crm"))
    crm.hold = asyncio.Event()
    for n in range(8):
        await box.record_call(make_call(f"{n}.1", recording=False), [crm])
    dispatcher, _ = await run(box, [crm], replace(FAST, concurrency=4))
    async with asyncio.timeout(HANG_GUARD):
        await crm.wait_started(4)  # one claim handed a job to each of the 4 workers
        crm.hold.set()
        await crm.wait_done(8)
    await dispatcher.stop()
    await box.close()
    assert sum(box.rounds) == 8
    assert len(box.rounds) <= 4  # per-job bookkeeping took 8 commits

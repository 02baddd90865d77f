"""The outbox on a real SQLite file: journal, idempotent jobs, leases, order, dead letters, retention."""

from __future__ import annotations

from datetime import timedelta

from connector.calls.model import Call, Direction, LiveEvent, LiveKind
from connector.config import OutboxSettings
from connector.crm import JobKind
from connector.sync.dispatcher import sweep
from connector.sync.jobs import JobState, Settlement
from connector.sync.outbox import Outbox
from tests.fakes.recording_adapter import RecordingAdapter, context
from tests.unit.sync.conftest import T0, Clock, make_call

OWNER = "worker-a"


def crm(name: str = "crm") -> RecordingAdapter:
    return RecordingAdapter(context(name))


async def test_record_call_journals_the_call_and_queues_one_job_per_kind(outbox: Outbox) -> None:
    call = make_call()
    added = await outbox.record_call(call, [crm()])
    jobs = await outbox.jobs()
    assert added == 2
    assert await outbox.journal(call.id) == call.to_dict()
    assert sorted(j.key for j in jobs) == [f"crm:{call.id}:attach_recording", f"crm:{call.id}:log_call"]


async def test_recording_the_same_call_twice_adds_nothing(outbox: Outbox) -> None:
    await outbox.record_call(make_call(), [crm()])
    again = await outbox.record_call(make_call(), [crm()])
    assert again == 0
    assert len(await outbox.jobs()) == 2


async def test_each_adapter_gets_its_own_jobs(outbox: Outbox) -> None:
    await outbox.record_call(make_call(), [crm("a"), crm("b")])
    stats = await outbox.stats()
    assert {name: s.pending for name, s in stats.adapters.items()} == {"a": 2, "b": 2}


async def test_claim_hands_a_job_with_the_journalled_call_as_payload(outbox: Outbox) -> None:
    call = make_call()
    await outbox.record_call(call, [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    assert job.kind is JobKind.LOG_CALL
    assert job.payload == call.to_dict()
    assert job.attempts == 1


async def test_later_job_of_a_conversation_waits_until_the_earlier_is_delivered(outbox: Outbox) -> None:
    await outbox.record_call(make_call(), [crm()])
    [first] = await outbox.claim("crm", OWNER, 60, limit=10)
    held = await outbox.claim("crm", OWNER, 60, limit=10)
    await outbox.ack(first, OWNER)
    [second] = await outbox.claim("crm", OWNER, 60, limit=10)
    assert held == []
    assert second.kind is JobKind.ATTACH_RECORDING


async def test_different_conversations_are_claimed_side_by_side(outbox: Outbox) -> None:
    await outbox.record_call(make_call("1.1"), [crm()])
    await outbox.record_call(make_call("2.1"), [crm()])
    jobs = await outbox.claim("crm", OWNER, 60, limit=10)
    assert sorted((j.conversation, j.kind) for j in jobs) == [
        ("1.1", JobKind.LOG_CALL),
        ("2.1", JobKind.LOG_CALL),
    ]


async def test_job_retried_later_is_not_claimed_before_its_time(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.retry_later(job, OWNER, 30.0, "503")
    early = await outbox.claim("crm", OWNER, 60)
    clock.advance(30.0)
    [again] = await outbox.claim("crm", OWNER, 60)
    assert early == []
    assert (again.id, again.attempts, again.last_error) == (job.id, 2, "503")


async def test_expired_lease_returns_the_job_to_the_queue(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    [job] = await outbox.claim("crm", "crashed-worker", 10)
    clock.advance(11)
    reaped = await outbox.reap(max_attempts=5)
    [again] = await outbox.claim("crm", OWNER, 10)
    assert reaped == 1
    assert again.id == job.id


async def test_ack_after_the_lease_was_lost_reports_it(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    [job] = await outbox.claim("crm", "slow-worker", 10)
    clock.advance(11)
    await outbox.reap(max_attempts=5)
    await outbox.claim("crm", OWNER, 10)
    assert await outbox.ack(job, "slow-worker") is False


async def test_job_whose_worker_keeps_dying_is_dead_lettered(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    for _ in range(3):
        await outbox.claim("crm", "doomed", 10)
        clock.advance(11)
        await outbox.reap(max_attempts=3)
    [job] = await outbox.jobs()
    assert job.state is JobState.DEAD
    assert "worker was lost 3 times" in (job.last_error or "")


async def test_dead_letter_keeps_the_message_and_holds_the_rest_of_the_conversation(outbox: Outbox) -> None:
    await outbox.record_call(make_call(), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.bury(job, OWNER, "HTTP 400: Entity not found")
    jobs = {j.kind: j for j in await outbox.jobs()}
    assert jobs[JobKind.LOG_CALL].last_error == "HTTP 400: Entity not found"
    assert jobs[JobKind.ATTACH_RECORDING].state is JobState.DEAD
    assert "earlier job" in (jobs[JobKind.ATTACH_RECORDING].last_error or "")


async def test_retry_of_a_dead_job_requeues_its_whole_chain(outbox: Outbox) -> None:
    await outbox.record_call(make_call(), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.bury(job, OWNER, "no")
    count = await outbox.retry([job.id])
    states = {j.kind: (j.state, j.attempts) for j in await outbox.jobs()}
    assert count == 2
    assert states == {
        JobKind.LOG_CALL: (JobState.PENDING, 0),
        JobKind.ATTACH_RECORDING: (JobState.PENDING, 0),
    }


async def test_retry_all_dead_requeues_every_dead_job(outbox: Outbox) -> None:
    for call_id in ("1.1", "2.1"):
        await outbox.record_call(make_call(call_id, recording=False), [crm()])
    for job in await outbox.claim("crm", OWNER, 60, limit=5):
        await outbox.bury(job, OWNER, "no")
    assert await outbox.retry(all_dead=True) == 2


async def test_release_gives_running_jobs_back_with_the_attempt_refunded(outbox: Outbox) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    await outbox.claim("crm", OWNER, 60)
    released = await outbox.release(OWNER)
    [job] = await outbox.jobs()
    assert released == 1
    assert (job.state, job.attempts) == (JobState.PENDING, 0)


async def test_live_events_queue_once_and_run_before_the_call(outbox: Outbox) -> None:
    ringing = LiveEvent(LiveKind.RINGING, "1.1", T0, Direction.INBOUND, "+79161234567", exten="201")
    await outbox.record_live(ringing, [crm()])
    await outbox.record_live(ringing, [crm()])
    await outbox.record_call(make_call("1.1", recording=False), [crm()])
    [first] = await outbox.claim("crm", OWNER, 60, limit=5)
    assert first.kind is JobKind.LIVE
    assert first.payload == ringing.to_dict()
    assert len(await outbox.jobs()) == 2


async def test_live_jobs_under_another_linkedid_join_the_conversation(outbox: Outbox) -> None:
    ringing = LiveEvent(LiveKind.RINGING, "1.7", T0, Direction.INBOUND, "+79161234567", exten="201")
    await outbox.record_live(ringing, [crm()])
    await outbox.record_call(make_call("1.1", recording=False, linkedids=("1.1", "1.7")), [crm()])
    claimed = await outbox.claim("crm", OWNER, 60, limit=5)
    assert [(j.kind, j.conversation) for j in claimed] == [(JobKind.LIVE, "1.1")]


async def test_stats_give_depth_dead_delivered_and_oldest_age(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call("1.1"), [crm()])
    clock.advance(100)
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.ack(job, OWNER)
    stats = (await outbox.stats()).adapters["crm"]
    assert (stats.pending, stats.running, stats.delivered, stats.dead) == (1, 0, 1, 0)
    assert stats.oldest_age == 100


async def test_purge_deletes_only_finished_jobs_past_the_age(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call("1.1", recording=False), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.ack(job, OWNER)
    await outbox.record_call(make_call("2.1", recording=False), [crm()])
    clock.advance(3600)
    removed = await outbox.purge(JobState.DELIVERED, 1800)
    assert removed == 1
    assert [j.conversation for j in await outbox.jobs()] == ["2.1"]


async def test_journal_keeps_calls_that_still_have_jobs_to_deliver(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call("1.1", recording=False), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.ack(job, OWNER)
    await outbox.record_call(make_call("2.1", recording=False, minutes=1), [crm()])
    clock.advance(86400)
    removed = await outbox.purge_journal(3600)
    assert removed == 1
    assert await outbox.journal("1.1") is None
    assert await outbox.journal("2.1") is not None


async def test_internal_call_makes_no_jobs_but_is_journalled(outbox: Outbox) -> None:
    call = make_call(direction=Direction.INTERNAL, client="202", answered_at=T0 + timedelta(seconds=1))
    added = await outbox.record_call(call, [crm()])
    assert added == 0
    assert (await outbox.stats()).journal_calls == 1


async def test_jobs_of_a_dead_owner_are_requeued_before_their_lease_ends(outbox: Outbox) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    await outbox.claim("crm", "999999999-gone", 600)
    reaped = await outbox.reap(max_attempts=5, lost_owners=await outbox.lease_owners())
    [job] = await outbox.jobs()
    assert reaped == 1
    assert job.state is JobState.PENDING


async def test_sweep_applies_the_retention_settings(outbox: Outbox, clock: Clock) -> None:
    await outbox.record_call(make_call("1.1", recording=False), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.ack(job, OWNER)
    clock.advance(8 * 86400)
    removed = await sweep(outbox, OutboxSettings(delivered_retention_days=7, journal_retention_days=10))
    assert removed == {"delivered": 1, "dead": 0, "journal": 0}


class BrokenPlanner(RecordingAdapter):
    def jobs_for(self, call: Call) -> list[JobKind]:
        raise RuntimeError("bug in the adapter")


async def test_adapter_failing_to_plan_does_not_lose_the_call_for_the_others(outbox: Outbox) -> None:
    added = await outbox.record_call(make_call(), [BrokenPlanner(context("broken")), crm("good")])
    assert added == 2
    assert list((await outbox.stats()).adapters) == ["good"]


async def test_job_queued_behind_a_dead_one_is_held_dead_with_it(outbox: Outbox) -> None:
    ringing = LiveEvent(LiveKind.RINGING, "1.1", T0, Direction.INBOUND, "+79161234567", exten="201")
    await outbox.record_live(ringing, [crm()])
    [live] = await outbox.claim("crm", OWNER, 60)
    await outbox.bury(live, OWNER, "HTTP 400: no such user")
    await outbox.record_call(make_call("1.1", recording=False), [crm()])
    [call_job] = await outbox.jobs(states=[JobState.DEAD], limit=1)
    assert call_job.kind is JobKind.LOG_CALL
    assert call_job.last_error == f"held: earlier job #{live.id} of this conversation is dead"


async def test_due_time_left_far_ahead_by_a_clock_jump_back_is_pulled_in(
    outbox: Outbox, clock: Clock
) -> None:
    await outbox.record_call(make_call(recording=False), [crm()])
    [job] = await outbox.claim("crm", OWNER, 60)
    await outbox.retry_later(job, OWNER, 600.0, "503")
    clock.advance(-86400)  # NTP corrected a clock that had booted a day ahead
    await outbox.clamp_future(max_delay=3600, lease_seconds=60)
    [again] = await outbox.claim("crm", OWNER, 60)
    assert again.id == job.id


async def test_one_settle_writes_every_verdict_and_claims_the_next_job_of_a_chain_just_delivered(
    outbox: Outbox, clock: Clock
) -> None:
    for n in range(3):
        await outbox.record_call(make_call(f"1700000000.{n}"), [crm()])
    delivered, retried, buried = await outbox.claim("crm", OWNER, 60, limit=10)
    kept, claimed = await outbox.settle(
        OWNER,
        [
            Settlement(delivered, "delivered"),
            Settlement(retried, "retry", 30.0, "HTTP 503"),
            Settlement(buried, "dead", error="HTTP 400: bad phone"),
        ],
        adapter="crm",
        claim=10,
    )
    assert kept == [True, True, True]
    # Only the delivered call's recording is free: the others wait behind a retry or a dead job.
    assert [(j.conversation, j.kind, j.state) for j in claimed] == [
        (delivered.conversation, JobKind.ATTACH_RECORDING, JobState.RUNNING)
    ]
    states = {(j.conversation, j.kind): (j.state, j.attempts) for j in await outbox.jobs(limit=10)}
    assert states[(retried.conversation, JobKind.LOG_CALL)] == (JobState.PENDING, 1)
    assert states[(buried.conversation, JobKind.ATTACH_RECORDING)][0] is JobState.DEAD  # held with it


async def test_internal_calls_make_no_jobs_unless_pushed(outbox: Outbox) -> None:
    import dataclasses

    internal = make_call("1700000000.7", direction=Direction.INTERNAL, client="202", did=None)
    pushing = RecordingAdapter(dataclasses.replace(context("pushing"), push_internal=True))
    await outbox.record_call(internal, [crm("quiet"), pushing])
    assert sorted(j.key for j in await outbox.jobs()) == [
        f"pushing:{internal.id}:attach_recording",
        f"pushing:{internal.id}:log_call",
    ]

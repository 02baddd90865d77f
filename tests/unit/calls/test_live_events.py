"""Live call events (screen pop, ring-time registration) and where the tracker's time comes from."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.calls.model import Call, LiveEvent, LiveKind

from .captures import load, replay, replay_all, tracker_for


def _live(name: str) -> list[LiveEvent]:
    _, out = replay_all(load(name))
    return [item for item in out if isinstance(item, LiveEvent)]


def test_ring_group_rings_both_then_one_answers_then_ends() -> None:
    kinds = [(e.kind, e.exten) for e in _live("inbound_ringgroup_answered")]
    assert sorted(kinds[:2], key=str) == [(LiveKind.RINGING, "201"), (LiveKind.RINGING, "202")]
    assert kinds[2:] == [(LiveKind.ANSWERED, "202"), (LiveKind.ENDED, None)]


def test_ringing_carries_client_and_line_for_screen_pop() -> None:
    ringing = _live("inbound_direct_answered")[0]
    assert (ringing.client, ringing.did, ringing.client_name) == (
        "+79161234567",
        "+74951110001",
        "Ivan Petrov",
    )


def test_click_to_call_rings_the_employee_with_the_client_number() -> None:
    ringing = _live("click_to_call_answered")[0]
    assert (ringing.kind, ringing.exten, ringing.direction.value, ringing.client) == (
        LiveKind.RINGING,
        "201",
        "outbound",
        "+79161234500",
    )


def test_blind_transfer_is_announced_with_both_extensions() -> None:
    transferred = [e for e in _live("blind_transfer_ami_answered") if e.kind is LiveKind.TRANSFERRED]
    assert [(e.from_exten, e.exten) for e in transferred] == [("201", "203")]


def test_pickup_announces_the_picker_as_answering() -> None:
    answered = [e.exten for e in _live("pickup_group") if e.kind is LiveKind.ANSWERED]
    assert answered == ["202"]


def test_live_events_keep_the_conversation_id_of_the_call() -> None:
    _, out = replay_all(load("attended_transfer_ami_completed"))
    call = next(item for item in out if isinstance(item, Call))
    assert {e.call_id for e in out if isinstance(e, LiveEvent)} == {call.id}


def test_event_timestamps_become_call_times() -> None:
    capture = load("internal_answered")
    first = datetime.fromtimestamp(float(str(capture.events[0]["Timestamp"])), UTC)
    assert replay(capture)[0].started_at == first


def test_without_timestamps_the_calls_are_the_same_in_order() -> None:
    capture = load("inbound_ringgroup_answered")
    bare = [{k: v for k, v in e.items() if k != "Timestamp"} for e in capture.events]
    got, want = replay(capture, bare)[0], replay(capture)[0]
    assert (got.rang, got.legs[0].extension, got.disposition) == (
        want.rang,
        want.legs[0].extension,
        want.disposition,
    )


def test_without_timestamps_each_event_advances_a_millisecond() -> None:
    capture = load("internal_answered")
    bare = [{k: v for k, v in e.items() if k != "Timestamp"} for e in capture.events]
    call = replay(capture, bare)[0]
    assert (call.ended_at - call.started_at).total_seconds() < len(bare) / 1000


def test_injected_time_is_used_when_events_have_none() -> None:
    capture = load("internal_answered")
    tracker = tracker_for(capture)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    calls: list[Call] = []
    for event in capture.events:
        calls.extend(
            x
            for x in tracker.feed({k: v for k, v in event.items() if k != "Timestamp"}, at)
            if isinstance(x, Call)
        )
    assert (calls[0].started_at, calls[0].ended_at) == (at, at)

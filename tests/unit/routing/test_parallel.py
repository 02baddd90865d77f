"""Parallel interception driven by live events, against a recording PBX."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.crm import Contact
from connector.routing import Interception, InterceptionSettings, ParallelInterceptor, ResponsibleFinder

from .recorder import RecordingPbx, channel

KNOWN = "+79161112233"
CALL = "mikopbx-1700000000.1"
CALLER = "PJSIP/SIP-1611151795-00000001"


async def lookup(phone: str) -> Contact | None:
    if phone == KNOWN:
        return Contact("1", "Клиент", (phone,), responsible_extension="203")
    return None


def interceptor(pbx: RecordingPbx, **options: object) -> ParallelInterceptor:
    values: dict[str, object] = {"enabled": True, "mode": "parallel", "attempt_seconds": 20}
    values.update(options)
    settings = InterceptionSettings(**values)  # type: ignore[arg-type]
    return ParallelInterceptor(Interception(settings, ResponsibleFinder([("crm", lookup)], settings)), pbx)


def event(kind: LiveKind, exten: str | None = "201", client: str = KNOWN) -> LiveEvent:
    return LiveEvent(
        kind, CALL, datetime(2026, 11, 23, 10, tzinfo=UTC), Direction.INBOUND, client, exten, "+74951110001"
    )


def pbx() -> RecordingPbx:
    return RecordingPbx([channel(CALLER, CALL, CALL, state="Ring")])


async def settle(p: ParallelInterceptor) -> None:
    """Let the attempts started so far finish their AMI exchanges."""
    await asyncio.gather(*list(p._tasks))


async def test_a_ringing_known_client_rings_the_responsible_too() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    originate = next(h for name, h in recorder.sent if name == "Originate")
    assert (originate["Channel"], originate["Context"], originate["Timeout"]) == (
        "PJSIP/203",
        "crm-interception-connect",
        "20000",
    )


async def test_the_attempt_tells_the_dialplan_whom_to_join() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    originate = next(h for name, h in recorder.sent if name == "Originate")
    assert originate["Variable"] == f"CRM_CALLER={CALLER},CRM_RESPONSIBLE=203"


async def test_the_attempt_is_announced_for_the_call_record_before_it_starts() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    marker = recorder.sent[recorder.actions().index("UserEvent")][1]
    assert (recorder.actions()[-2:], marker["Linkedid"], marker["Responsible"]) == (
        ["UserEvent", "Originate"],
        CALL,
        "203",
    )


async def test_someone_else_answering_stops_the_responsibles_phone() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    p.on_live(event(LiveKind.ANSWERED, "201"))
    await settle(p)
    attempt = next(h for name, h in recorder.sent if name == "Originate")["ChannelId"]
    assert recorder.sent[-1] == ("Hangup", {"Channel": attempt, "Cause": "26"})


async def test_the_caller_leaving_stops_the_responsibles_phone() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    p.on_live(event(LiveKind.ENDED, None))
    await settle(p)
    assert (recorder.actions()[-1], p.attempts) == ("Hangup", {})


async def test_the_responsible_answering_keeps_the_call() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    p.on_live(event(LiveKind.ANSWERED, "203"))
    await settle(p)
    assert "Hangup" not in recorder.actions()


async def test_an_unknown_caller_rings_nobody_extra() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING, client="+79165550000"))
    await settle(p)
    assert recorder.sent == []


async def test_a_route_that_rings_the_responsible_anyway_needs_no_attempt() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING, "203"))
    await settle(p)
    assert "Originate" not in recorder.actions()


async def test_an_unavailable_responsible_is_not_rung() -> None:
    recorder = pbx()
    recorder.variables["DEVICE_STATE(PJSIP/203)"] = "UNAVAILABLE"
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    assert ("Originate" in recorder.actions(), p.decisions) == (False, {"device_unavailable": 1})


async def test_predial_mode_ignores_live_events() -> None:
    recorder = pbx()
    p = interceptor(recorder, mode="predial")
    p.on_live(event(LiveKind.RINGING))
    await settle(p)
    assert recorder.sent == []


async def test_a_second_ring_of_the_same_call_starts_no_second_attempt() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.on_live(event(LiveKind.RINGING, "201"))
    p.on_live(event(LiveKind.RINGING, "202"))
    await settle(p)
    assert recorder.actions().count("Originate") == 1


async def test_calls_whose_end_was_never_seen_are_forgotten_oldest_first() -> None:
    recorder = pbx()
    p = interceptor(recorder)
    p.max_calls = 2
    for n in range(3):
        p.on_live(
            LiveEvent(
                LiveKind.RINGING,
                f"call-{n}",
                datetime(2026, 11, 23, tzinfo=UTC),
                Direction.INBOUND,
                "+79165550000",
            )
        )
    await settle(p)
    assert list(p.attempts) == ["call-1", "call-2"]

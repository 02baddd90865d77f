"""Interception to the responsible manager in the call record: the CrmInterception UserEvent.

The event sequences are shortened from real ones recorded on the harness's Asterisk 22
(tests/pbx/test_interception.py, parallel mode: line 1 rings 201 and 202 while the daemon
originates the responsible, 203, with its own ChannelId): the same events, headers and order,
with the ring group's Local pairs left out (the caller dials the phones directly).
"""

from __future__ import annotations

from connector.calls.core import AmiEvent
from connector.calls.model import Call
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker

CALLER = "mikopbx-1795333127.10"
# The daemon's attempt ids count from 1 within the second: smaller than the caller's uniqueid
# by the tracker's ordering, so an attempt must never become the call's id.
ATTEMPT = "crm-ic-1795333127.1"
TRUNK = "PJSIP/SIP-1611151795-00000004"
RULES = TrackerRules(dids=("74951110001",))


class Pbx:
    """Builds a real-looking AMI event sequence, 10 ms apart."""

    def __init__(self) -> None:
        self.events: list[AmiEvent] = []
        self.clock = 1795333127.0
        self.seq = 11

    def emit(self, name: str, **headers: str) -> None:
        self.clock += 0.01
        self.events.append({"Event": name, "Timestamp": f"{self.clock:.6f}", **headers})

    def snapshot(
        self, channel: str, uid: str, linkedid: str, state: str = "Up", prefix: str = ""
    ) -> dict[str, str]:
        number = channel.partition("/")[2].rpartition("-")[0]
        return {
            f"{prefix}Channel": channel,
            f"{prefix}ChannelStateDesc": state,
            f"{prefix}CallerIDNum": "+79161112233" if channel == TRUNK else number,
            f"{prefix}Exten": "74951110001" if channel == TRUNK else "s",
            f"{prefix}Uniqueid": uid,
            f"{prefix}Linkedid": linkedid,
        }

    def caller_rings_route(self) -> None:
        """The client calls line 1; the route rings 201 and 202."""
        self.emit("Newchannel", **self.snapshot(TRUNK, CALLER, CALLER, "Ring"))
        for ext in ("201", "202"):
            self.phone_dialled(ext)

    def phone_dialled(self, ext: str) -> None:
        uid = self.uid(ext)
        self.emit("Newchannel", **self.snapshot(f"PJSIP/{ext}-0000000{ext[-1]}", uid, CALLER, "Down"))
        self.emit(
            "DialBegin",
            **self.snapshot(TRUNK, CALLER, CALLER, "Ring"),
            **self.snapshot(f"PJSIP/{ext}-0000000{ext[-1]}", uid, CALLER, "Down", "Dest"),
        )

    def uid(self, ext: str) -> str:
        return f"mikopbx-1795333127.{int(ext) - 190}"

    def marker(self, *, attempt: str = ATTEMPT, caller: str = CALLER) -> None:
        """What ParallelInterceptor sends through AMI before its Originate."""
        self.emit(
            "UserEvent",
            UserEvent="CrmInterception",
            CallerUniqueid=caller,
            CallerLinkedid=caller,
            Uniqueid=caller,
            Linkedid=caller,
            Responsible="203",
            Mode="parallel",
            AttemptUniqueid=attempt,
        )

    def attempt_rings(self) -> None:
        """The Originate rings 203 on a channel whose uniqueid (and linkedid) is the attempt id."""
        self.emit("Newchannel", **self.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Down"))
        self.emit("DialBegin", **self.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Down", "Dest"))
        self.emit("Newstate", **self.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Ringing"))

    def attempt_ends(self, status: str, cause: str) -> None:
        self.emit(
            "DialEnd",
            DialStatus=status,
            **self.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Ringing", "Dest"),
        )
        self.emit(
            "OriginateResponse", Response="Failure", **self.snapshot("PJSIP/203", ATTEMPT, ATTEMPT, "Down")
        )
        self.emit("Hangup", Cause=cause, **self.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Ringing"))

    def route_stops(self, *exts: str, cause: str = "26") -> None:
        for ext in exts:
            channel = f"PJSIP/{ext}-0000000{ext[-1]}"
            self.emit(
                "DialEnd",
                DialStatus="CANCEL",
                **self.snapshot(TRUNK, CALLER, CALLER, "Ring"),
                **self.snapshot(channel, self.uid(ext), CALLER, "Ringing", "Dest"),
            )
            self.emit("Hangup", Cause=cause, **self.snapshot(channel, self.uid(ext), CALLER, "Ringing"))

    def bridge(self, *parties: tuple[str, str]) -> None:
        for channel, uid in parties:
            self.emit(
                "BridgeEnter", BridgeUniqueid="b1", BridgeType="basic", **self.snapshot(channel, uid, CALLER)
            )

    def caller_hangs_up(self, *bridged: tuple[str, str]) -> None:
        self.emit("HangupRequest", Cause="16", **self.snapshot(TRUNK, CALLER, CALLER))
        for channel, uid in ((TRUNK, CALLER), *bridged):
            self.emit(
                "BridgeLeave", BridgeUniqueid="b1", BridgeType="basic", **self.snapshot(channel, uid, CALLER)
            )
        for channel, uid in (*bridged, (TRUNK, CALLER)):
            self.emit("Hangup", Cause="16", **self.snapshot(channel, uid, CALLER))


def feed(events: list[AmiEvent]) -> tuple[CallTracker, list[tuple[int, Call]]]:
    """The tracker after `events`, and each call it emitted with the index of the event."""
    tracker = CallTracker(RULES)
    calls = [
        (i, item) for i, event in enumerate(events) for item in tracker.feed(event) if isinstance(item, Call)
    ]
    return tracker, calls


def summary(call: Call) -> tuple[object, ...]:
    return (
        call.id,
        call.direction.value,
        call.client,
        call.rang,
        call.answered_by,
        tuple(g.extension for g in call.legs),
        call.disposition.value,
        call.intercepted_by,
        call.originated,
    )


def test_responsible_who_answers_first_is_the_answerer_of_the_one_call() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    pbx.marker()
    pbx.attempt_rings()
    pbx.emit("Newstate", **pbx.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Up"))
    pbx.emit("OriginateResponse", Response="Success", **pbx.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT))
    pbx.emit(
        "DialEnd", DialStatus="ANSWER", **pbx.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Up", "Dest")
    )
    pbx.route_stops("201", "202", cause="16")
    # The dialplan's Bridge() joins them; Asterisk rewrites the attempt's linkedid to the caller's.
    pbx.bridge((TRUNK, CALLER), ("PJSIP/203-00000007", ATTEMPT))
    pbx.caller_hangs_up(("PJSIP/203-00000007", ATTEMPT))
    tracker, calls = feed(pbx.events)
    assert ([summary(c) for _, c in calls], tracker.in_progress) == (
        [
            (
                CALLER,
                "inbound",
                "+79161112233",
                ("201", "202", "203"),
                "203",
                ("203",),
                "answered",
                "203",
                False,
            )
        ],
        0,
    )


def test_someone_else_answering_first_leaves_one_call_with_the_interception_noted() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    pbx.marker()
    pbx.attempt_rings()
    pbx.emit(
        "DialEnd",
        DialStatus="ANSWER",
        **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"),
        **pbx.snapshot("PJSIP/201-00000001", pbx.uid("201"), CALLER, "Up", "Dest"),
    )
    pbx.route_stops("202")
    pbx.bridge(("PJSIP/201-00000001", pbx.uid("201")), (TRUNK, CALLER))
    pbx.attempt_ends("NOANSWER", "26")  # the daemon's Hangup, cause 26: answered elsewhere
    pbx.caller_hangs_up(("PJSIP/201-00000001", pbx.uid("201")))
    tracker, calls = feed(pbx.events)
    assert ([summary(c) for _, c in calls], tracker.in_progress) == (
        [
            (
                CALLER,
                "inbound",
                "+79161112233",
                ("201", "202", "203"),
                "201",
                ("201",),
                "answered",
                "203",
                False,
            )
        ],
        0,
    )


def test_caller_leaving_ends_the_call_while_the_attempt_still_rings() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    pbx.marker()
    pbx.attempt_rings()
    pbx.emit("HangupRequest", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    pbx.route_stops("201", "202", cause="16")
    pbx.emit("Hangup", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    caller_gone = len(pbx.events) - 1
    pbx.attempt_ends("CANCEL", "16")  # stopped by the daemon once it saw the call end
    tracker, calls = feed(pbx.events)
    # The record comes with the caller's hangup: its `ended` is what makes the daemon stop the
    # attempt, so the attempt's channel must not hold the call open.
    assert ([(i, summary(c)) for i, c in calls], tracker.in_progress, tracker.by_linkedid) == (
        [
            (
                caller_gone,
                (CALLER, "inbound", "+79161112233", ("201", "202", "203"), None, (), "missed", "203", False),
            )
        ],
        0,
        {},
    )


def test_late_answer_of_the_responsible_is_not_an_answer() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    pbx.marker()
    pbx.attempt_rings()
    pbx.emit("HangupRequest", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    pbx.route_stops("201", "202", cause="16")
    # 203 answers while the caller is leaving: the dialplan finds nobody to join and hangs up.
    pbx.emit(
        "DialEnd", DialStatus="ANSWER", **pbx.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT, "Up", "Dest")
    )
    pbx.emit("Hangup", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    pbx.emit("Hangup", Cause="16", **pbx.snapshot("PJSIP/203-00000007", ATTEMPT, ATTEMPT))
    _, calls = feed(pbx.events)
    assert [(c.disposition.value, c.answered_by, c.intercepted_by) for _, c in calls] == [
        ("missed", None, "203")
    ]


def test_attempt_channel_seen_before_its_marker_is_still_filed_under_the_call() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    pbx.attempt_rings()
    pbx.marker()
    pbx.attempt_ends("NOANSWER", "26")
    pbx.route_stops("201", "202")
    pbx.emit("Hangup", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    tracker, calls = feed(pbx.events)
    assert (
        [(c.id, c.direction.value, c.intercepted_by, c.originated) for _, c in calls],
        tracker.in_progress,
    ) == (
        [(CALLER, "inbound", "203", False)],
        0,
    )


def test_marker_for_a_call_the_tracker_does_not_know_is_ignored() -> None:
    pbx = Pbx()
    pbx.marker(caller="mikopbx-1795333000.1")
    tracker, calls = feed(pbx.events)
    assert (calls, tracker.by_linkedid, tracker.skipped) == ([], {}, 0)


def test_attempts_that_never_came_are_forgotten_with_the_call() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    for n in range(20):
        pbx.marker(attempt=f"crm-ic-1795333127.{100 + n}")
    pbx.route_stops("201", "202")
    pbx.emit("Hangup", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    tracker, calls = feed(pbx.events)
    assert ([c.intercepted_by for _, c in calls], tracker.by_linkedid, tracker.conversations) == (
        ["203"],
        {},
        set(),
    )


def test_predial_marker_on_the_callers_channel_names_the_responsible() -> None:
    pbx = Pbx()
    pbx.emit("Newchannel", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    # The dialplan's UserEvent() carries the caller's snapshot and Responsible, no attempt id.
    pbx.emit(
        "UserEvent",
        UserEvent="CrmInterception",
        Responsible="203",
        Mode="predial",
        Seconds="15",
        **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"),
    )
    pbx.phone_dialled("203")
    pbx.route_stops("203", cause="19")
    for ext in ("201", "202"):
        pbx.phone_dialled(ext)
    pbx.emit(
        "DialEnd",
        DialStatus="ANSWER",
        **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"),
        **pbx.snapshot("PJSIP/201-00000001", pbx.uid("201"), CALLER, "Up", "Dest"),
    )
    pbx.route_stops("202")
    pbx.bridge(("PJSIP/201-00000001", pbx.uid("201")), (TRUNK, CALLER))
    pbx.caller_hangs_up(("PJSIP/201-00000001", pbx.uid("201")))
    _, calls = feed(pbx.events)
    assert [(c.rang, c.answered_by, c.intercepted_by, c.originated) for _, c in calls] == [
        (("203", "201", "202"), "201", "203", False)
    ]


def test_other_user_events_change_nothing() -> None:
    pbx = Pbx()
    pbx.caller_rings_route()
    pbx.emit(
        "UserEvent", UserEvent="CdrConnector", AgiData="e30=", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring")
    )
    pbx.route_stops("201", "202")
    pbx.emit("Hangup", Cause="16", **pbx.snapshot(TRUNK, CALLER, CALLER, "Ring"))
    _, calls = feed(pbx.events)
    assert [(c.rang, c.intercepted_by) for _, c in calls] == [(("201", "202"), None)]

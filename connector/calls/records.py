"""From a conversation's state to what the outside world sees: its direction and parties, the
live events while it lasts, and the finished `Call` record.

Direction: the conversation's first phone channel (its origin) decides. An external origin
that called in (anything but an originate: see `parties`) is an inbound call (client = its
caller id, DID = the number it dialled or the matching configured line); an employee origin
that dialled an external party is outbound (client = the dialled number), as is a
conversation the PBX started by calling the client; otherwise the call is internal (client =
the calling extension).

Disposition: answered when an employee talked to the client (a leg); an unanswered inbound call
is missed; otherwise the status of the caller's own dial (BUSY, NOANSWER, CANCEL, CONGESTION,
CHANUNAVAIL), else the client's hangup cause. `rang` lists employees in the order the PBX
dialled towards them (through Local channels: a ring group's members in its configured order).
"""

from __future__ import annotations

from datetime import UTC, datetime

from connector.calls.clock import sane
from connector.calls.model import Call, Direction, Disposition, Leg, LiveEvent, LiveKind, Reason, Transfer
from connector.calls.rules import TrackerRules
from connector.calls.state import Conversation, Kind

_STATUS = {
    "BUSY": Disposition.BUSY,
    "NOANSWER": Disposition.NO_ANSWER,
    "CANCEL": Disposition.CANCELLED,
    "CONGESTION": Disposition.FAILED,
    "CHANUNAVAIL": Disposition.FAILED,
}
_CAUSES = {17: Disposition.BUSY, 18: Disposition.NO_ANSWER, 19: Disposition.NO_ANSWER, 21: Disposition.BUSY}
_FAILED_CAUSES = frozenset({1, 3, 20, 27, 28, 34, 38, 41, 42, 44, 58, 88})


def moment(at: float) -> datetime:
    """An event time (epoch seconds) as an aware UTC datetime (an absurd one clamped, never raised)."""
    return datetime.fromtimestamp(sane(at), UTC)


def parties(conv: Conversation, rules: TrackerRules) -> tuple[Direction, str, str | None]:
    """The conversation's direction, client number and DID, as far as they are known now."""
    origin = conv.origin
    if origin is None:
        return Direction.INTERNAL, "", None
    if origin.kind is Kind.EXTERNAL and conv.originated:
        # The PBX called the client first (an Originate to the client, then an employee). Known by
        # what only an originate leaves: a dial with no source channel, an OriginateResponse, a
        # Local channel born for it; never by the channel's birth state (chan_sip, IAX2 and
        # DAHDI create inbound channels in state Down too).
        return Direction.OUTBOUND, rules.normalize(conv.dialled or origin.caller_num), None
    if origin.kind is Kind.EXTERNAL:
        return Direction.INBOUND, rules.normalize(origin.caller_num), rules.line_for(origin.exten)
    if conv.external is not None or _dialled_out(conv, rules):
        return Direction.OUTBOUND, rules.normalize(conv.dialled), None
    return Direction.INTERNAL, origin.ext or origin.caller_num, None


def _dialled_out(conv: Conversation, rules: TrackerRules) -> bool:
    return bool(conv.dialled) and not rules.is_extension(conv.dialled)


def live(
    conv: Conversation, rules: TrackerRules, kind: LiveKind, at: float, **extra: str | None
) -> LiveEvent:
    """A live event about `conv` at time `at`."""
    direction, client, did = parties(conv, rules)
    return LiveEvent(
        kind=kind,
        call_id=conv.call_id,
        at=moment(at),
        direction=direction,
        client=client,
        did=did,
        client_name=conv.client_name,
        exten=extra.get("exten"),
        from_exten=extra.get("from_exten"),
    )


def build_call(conv: Conversation, rules: TrackerRules, ended: float) -> Call | None:
    """The finished call, or None when the conversation never involved a phone."""
    if conv.origin is None:
        return None
    direction, client, did = parties(conv, rules)
    legs = merged_legs(conv, ended) or _answer_without_bridge(conv, direction, ended)
    answered = legs[0].answered_at if legs else None
    return Call(
        id=conv.call_id,
        linkedids=tuple(sorted(conv.linkedids)),
        direction=direction,
        client=client,
        client_name=conv.client_name,
        did=did,
        started_at=moment(conv.started),
        answered_at=answered,
        ended_at=moment(max(ended, conv.started)),
        disposition=disposition(conv, direction, bool(legs)),
        rang=tuple(sorted(conv.rang, key=lambda ext: conv.rang[ext])),
        answered_by=legs[0].extension if legs else None,
        legs=tuple(legs),
        transfers=tuple(
            Transfer(t.kind, t.from_ext, t.to_ext, moment(t.at)) for t in sorted(conv.transfers, key=_at)
        ),
        queue=conv.queue,
        queue_name=conv.queue_name,
        pickup=conv.pickup and bool(legs),
        originated=conv.originated,
        recordings=tuple(conv.recordings),
        hangup_cause=_cause(conv),
        hangup_side=conv.hangup_side,
        interrupted=conv.interrupted,
        intercepted_by=conv.intercepted_by,
        reason=None if legs else reason(conv, rules),
        voicemail_box=None if legs else conv.voicemail_box,
        voicemail_left=not legs and conv.voicemail_left,
    )


def _at(note: object) -> float:
    return float(getattr(note, "at", 0.0))


def merged_legs(conv: Conversation, ended: float) -> list[Leg]:
    """The legs in time order, consecutive stretches of one extension joined into one leg."""
    legs: list[Leg] = []
    for leg in sorted(conv.legs, key=lambda g: g.start):
        end = leg.end if leg.end is not None else ended
        if legs and legs[-1].extension == leg.ext:
            legs[-1] = Leg(leg.ext, legs[-1].answered_at, max(legs[-1].ended_at, moment(end)))
        else:
            legs.append(Leg(leg.ext, moment(leg.start), moment(end)))
    return legs


def _answer_without_bridge(conv: Conversation, direction: Direction, ended: float) -> list[Leg]:
    """A leg from the first employee's DialEnd ANSWER when the bridge events were lost.

    Not for outbound calls: there the employee answering (click-to-call) is not the client.
    """
    if direction is Direction.OUTBOUND or not conv.dial_answers:
        return []
    at, ext = conv.dial_answers[0]
    return [Leg(ext, moment(at), moment(max(at, ended)))]


def disposition(conv: Conversation, direction: Direction, answered: bool) -> Disposition:
    """How the conversation ended, from the client's side (the caller's for internal calls)."""
    if answered:
        return Disposition.ANSWERED
    if direction is Direction.INBOUND:
        return Disposition.MISSED
    if conv.outer_status in _STATUS:
        return _STATUS[conv.outer_status]
    if conv.dial_count == 0:
        # Refused by the dialplan before any dial: an extension on a call is busy; anything
        # else (an outbound number nobody could route, Congestion) failed.
        if conv.refused == "busy" and direction is Direction.INTERNAL:
            return Disposition.BUSY
        return Disposition.FAILED
    cause = _cause(conv)
    if cause in _CAUSES:
        return _CAUSES[cause]
    if cause in _FAILED_CAUSES:
        return Disposition.FAILED
    return Disposition.CANCELLED


def reason(conv: Conversation, rules: TrackerRules) -> Reason:
    """Why a call nobody answered ended as it did, strongest evidence first.

    Closed hours, then voicemail, then a refusal or a dial that met a busy party or no route,
    then, for an inbound call no phone rang, a start outside the configured working hours (the
    interception schedule, when there is one) is closed hours too; then a voice menu or an
    announcement the caller left before any phone rang; when phones
    rang, the caller hanging up first is `caller_gave_up`, the dialplan giving up `no_answer`.
    A call that reached nothing at all (hung up in the dialplan, nothing dialled) is
    `caller_gave_up` when the caller hung up, else `no_route`.
    """
    if conv.closed_hours:
        return Reason.CLOSED_HOURS
    if conv.voicemail_box is not None:
        return Reason.VOICEMAIL
    if conv.refused == "busy" or conv.outer_status == "BUSY" or _cause(conv) in (17, 21):
        return Reason.BUSY_ON_CALL
    if conv.refused == "congestion" or conv.outer_status in ("CONGESTION", "CHANUNAVAIL"):
        return Reason.NO_ROUTE
    if not conv.rang:
        if _outside_hours(conv, rules):
            return Reason.CLOSED_HOURS
        if conv.ivr:
            return Reason.IVR_ABANDON
        if conv.announced:
            return Reason.ANNOUNCEMENT
    if conv.outer_status == "NOANSWER":
        return Reason.NO_ANSWER
    if conv.hangup_side == "client" or conv.outer_status == "CANCEL":
        return Reason.CALLER_GAVE_UP
    if conv.rang:
        return Reason.NO_ANSWER
    return Reason.CALLER_GAVE_UP if conv.origin is not None and _cause(conv) == 16 else Reason.NO_ROUTE


def _outside_hours(conv: Conversation, rules: TrackerRules) -> bool:
    origin = conv.origin
    if rules.working_hours is None or origin is None or origin.kind is not Kind.EXTERNAL or conv.originated:
        return False
    return not rules.working_hours(moment(conv.started))


def _cause(conv: Conversation) -> int | None:
    if conv.client_uid is not None and conv.client_uid in conv.causes:
        return conv.causes[conv.client_uid]
    if conv.origin is not None:
        return conv.causes.get(conv.origin.uniqueid)
    return None

"""The call records and live events the tracker emits: frozen, typed, serialisable.

A `Call` is one conversation as people talk about it ("a client called sales line 1, it rang 201
and 202, 202 answered, talked 3 min, transferred to 205"). It is keyed by the smallest linkedid
of the group of linkedids that shared channels. `to_dict`/`call_from_dict` give the stable JSON
shape used by `replay`, the outbox journal and the adapters' tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class Direction(enum.StrEnum):
    """Who started the conversation, seen from the company."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Disposition(enum.StrEnum):
    """How the conversation ended (see docs/capture-format.md for the exact rules)."""

    ANSWERED = "answered"
    MISSED = "missed"
    BUSY = "busy"
    CANCELLED = "cancelled"
    FAILED = "failed"
    NO_ANSWER = "no-answer"


class Reason(enum.StrEnum):
    """Why a call nobody answered ended as it did (docs/capture-format.md, "reason")."""

    CLOSED_HOURS = "closed_hours"  # the dialplan took the out-of-hours branch
    IVR_ABANDON = "ivr_abandon"  # the caller hung up in a voice menu before any phone rang
    VOICEMAIL = "voicemail"  # the call went to a mailbox (see Call.voicemail)
    ANNOUNCEMENT = "announcement"  # a recording played, no phone rang
    BUSY_ON_CALL = "busy_on_call"  # the called party was busy (Busy() or a BUSY dial)
    NO_ROUTE = "no_route"  # nowhere to send it (Congestion(), CHANUNAVAIL, nothing dialled)
    CALLER_GAVE_UP = "caller_gave_up"  # phones rang, the caller hung up first
    NO_ANSWER = "no_answer"  # phones rang until the dialplan gave up


class TransferKind(enum.StrEnum):
    """Blind (sent to the dialplan) or attended (after a consultation)."""

    BLIND = "blind"
    ATTENDED = "attended"


@dataclass(frozen=True, slots=True)
class Leg:
    """One employee's part of the conversation: who talked to the client and when."""

    extension: str
    answered_at: datetime
    ended_at: datetime

    @property
    def talk_seconds(self) -> float:
        """Seconds this employee talked to the client."""
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer of the client from one extension to another."""

    kind: TransferKind
    from_ext: str
    to_ext: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Call:
    """One finished conversation, whatever its routing."""

    id: str
    linkedids: tuple[str, ...]
    direction: Direction
    client: str
    did: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    disposition: Disposition
    rang: tuple[str, ...] = ()
    answered_by: str | None = None
    legs: tuple[Leg, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    queue: str | None = None
    queue_name: str | None = None  # the queue's name when configured (numbering.queues)
    pickup: bool = False
    originated: bool = False
    recordings: tuple[str, ...] = ()
    hangup_cause: int | None = None
    hangup_side: str | None = None  # "client", "employee" or None when unknown
    client_name: str | None = None
    interrupted: bool = False  # closed by a lifetime limit or an AMI resync, not by Asterisk
    intercepted_by: str | None = None  # responsible-manager interception that rang, if any
    reason: Reason | None = None  # why an unanswered call ended so (None when answered)
    voicemail_box: str | None = None  # the mailbox the call reached, if it did
    voicemail_left: bool = False  # whether the caller started a message there (after the beep)
    pbx: str = ""  # the office (connector's pbx id) the call went through; "" when not stamped

    @property
    def voicemail(self) -> dict[str, Any] | None:
        """The mailbox and whether a message was left, when the call reached voicemail."""
        if self.voicemail_box is None:
            return None
        return {"mailbox": self.voicemail_box, "message_left": self.voicemail_left}

    @property
    def talk_seconds(self) -> float:
        """Seconds the client talked with employees (0 when never answered)."""
        if self.answered_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())

    @property
    def wait_seconds(self) -> float:
        """Seconds from the start until someone answered (or until the end if nobody did)."""
        until = self.answered_at or self.ended_at
        return max(0.0, (until - self.started_at).total_seconds())

    @property
    def recording(self) -> str | None:
        """The main recording file of the conversation, if one was announced."""
        return self.recordings[0] if self.recordings else None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of a call (`replay` output, outbox journal)."""
        return {
            "id": self.id,
            "linkedids": list(self.linkedids),
            "direction": self.direction.value,
            "client": self.client,
            "client_name": self.client_name,
            "did": self.did,
            "started_at": _iso(self.started_at),
            "answered_at": _iso(self.answered_at) if self.answered_at else None,
            "ended_at": _iso(self.ended_at),
            "talk_seconds": round(self.talk_seconds, 3),
            "wait_seconds": round(self.wait_seconds, 3),
            "disposition": self.disposition.value,
            "rang": list(self.rang),
            "answered_by": self.answered_by,
            "legs": [
                {"extension": g.extension, "answered_at": _iso(g.answered_at), "ended_at": _iso(g.ended_at)}
                for g in self.legs
            ],
            "transfers": [
                {"kind": t.kind.value, "from": t.from_ext, "to": t.to_ext, "at": _iso(t.at)}
                for t in self.transfers
            ],
            "queue": self.queue,
            "queue_name": self.queue_name,
            "pickup": self.pickup,
            "originated": self.originated,
            "recording": self.recording,
            "recordings": list(self.recordings),
            "hangup_cause": self.hangup_cause,
            "hangup_side": self.hangup_side,
            "interrupted": self.interrupted,
            "intercepted_by": self.intercepted_by,
            "reason": self.reason.value if self.reason is not None else None,
            "voicemail": self.voicemail,
            **({"pbx": self.pbx} if self.pbx else {}),
        }


def call_from_dict(data: dict[str, Any]) -> Call:
    """Rebuild a `Call` from `Call.to_dict()` output."""
    answered = data.get("answered_at")
    return Call(
        id=data["id"],
        linkedids=tuple(data["linkedids"]),
        direction=Direction(data["direction"]),
        client=data["client"],
        client_name=data.get("client_name"),
        did=data.get("did"),
        started_at=parse_time(data["started_at"]),
        answered_at=parse_time(answered) if answered else None,
        ended_at=parse_time(data["ended_at"]),
        disposition=Disposition(data["disposition"]),
        rang=tuple(data.get("rang", ())),
        answered_by=data.get("answered_by"),
        legs=tuple(
            Leg(g["extension"], parse_time(g["answered_at"]), parse_time(g["ended_at"]))
            for g in data.get("legs", ())
        ),
        transfers=tuple(
            Transfer(TransferKind(t["kind"]), t["from"], t["to"], parse_time(t["at"]))
            for t in data.get("transfers", ())
        ),
        queue=data.get("queue"),
        queue_name=data.get("queue_name"),
        pickup=bool(data.get("pickup", False)),
        originated=bool(data.get("originated", False)),
        recordings=tuple(data.get("recordings") or ([data["recording"]] if data.get("recording") else [])),
        hangup_cause=data.get("hangup_cause"),
        hangup_side=data.get("hangup_side"),
        interrupted=bool(data.get("interrupted", False)),
        intercepted_by=data.get("intercepted_by"),
        reason=_reason(data.get("reason")),
        voicemail_box=(data.get("voicemail") or {}).get("mailbox"),
        voicemail_left=bool((data.get("voicemail") or {}).get("message_left", False)),
        pbx=str(data.get("pbx") or ""),
    )


def _reason(value: object) -> Reason | None:
    """A reason from JSON: None for a record written before reasons existed or an unknown one."""
    try:
        return Reason(str(value)) if value else None
    except ValueError:
        return None


class LiveKind(enum.StrEnum):
    """What happened in a call in progress."""

    RINGING = "ringing"
    ANSWERED = "answered"
    TRANSFERRED = "transferred"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A call in progress changed: used by screen pop and by adapters that need ring time.

    `exten` is the employee concerned (ringing at / answered by / transferred to); `client` is the
    external party (E.164) or the other extension for internal calls.
    """

    kind: LiveKind
    call_id: str
    at: datetime
    direction: Direction
    client: str
    exten: str | None = None
    did: str | None = None
    from_exten: str | None = None  # for TRANSFERRED
    client_name: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    pbx: str = ""  # the office the call goes through (see Call.pbx)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape for WebSocket screen pop and `replay --events`."""
        return {
            "kind": self.kind.value,
            "call_id": self.call_id,
            "at": _iso(self.at),
            "direction": self.direction.value,
            "client": self.client,
            "client_name": self.client_name,
            "exten": self.exten,
            "did": self.did,
            "from_exten": self.from_exten,
            **({"extra": dict(self.extra)} if self.extra else {}),
            **({"pbx": self.pbx} if self.pbx else {}),
        }


def live_from_dict(data: dict[str, Any]) -> LiveEvent:
    """Rebuild a `LiveEvent` from `LiveEvent.to_dict()` output."""
    return LiveEvent(
        kind=LiveKind(data["kind"]),
        call_id=data["call_id"],
        at=parse_time(data["at"]),
        direction=Direction(data["direction"]),
        client=data["client"],
        client_name=data.get("client_name"),
        exten=data.get("exten"),
        did=data.get("did"),
        from_exten=data.get("from_exten"),
        extra=dict(data.get("extra") or {}),
        pbx=str(data.get("pbx") or ""),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time (a trailing Z is accepted) into an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

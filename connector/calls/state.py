"""The tracker's working state: channels as Asterisk reports them, and conversations in progress.

A `Channel` is one Asterisk channel (uniqueid) classified by its name: an employee's phone
(`PJSIP/201-0000000a`, endpoint matching the internal pattern), an external party (a trunk
endpoint), one half of a Local pair (`Local/201@ctx-00000001;1`), or something the tracker
ignores (announcers, snoop channels...). A `Conversation` gathers every channel whose linkedids
were ever shared, with what is known so far of the call it will become. Times are float epoch
seconds here; records turn them into aware datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from connector.calls.model import TransferKind
from connector.calls.rules import TrackerRules

# Channel technologies that are real phones or trunks (anything else but Local is ignored).
PHONE_TECHS = frozenset({"PJSIP", "SIP", "IAX2", "DAHDI", "WebRTC", "Skype", "OOH323", "H323"})


class Kind(enum.Enum):
    """What a channel is to the call tracker."""

    EMPLOYEE = "employee"
    EXTERNAL = "external"
    LOCAL = "local"
    OTHER = "other"


def classify(name: str, rules: TrackerRules) -> tuple[Kind, str | None]:
    """The kind of channel `name` and, for an employee's phone, its extension."""
    tech, _, rest = name.partition("/")
    if tech == "Local":
        return Kind.LOCAL, None
    if tech not in PHONE_TECHS:
        return Kind.OTHER, None
    endpoint = rest.rpartition("-")[0] or rest
    if rules.is_extension(endpoint):
        return Kind.EMPLOYEE, endpoint
    # A second endpoint of the same phone, e.g. MikoPBX's WebRTC "201-WS", is still 201.
    head, sep, tail = endpoint.partition("-")
    if sep and tail.isalpha() and rules.is_extension(head):
        return Kind.EMPLOYEE, head
    return Kind.EXTERNAL, None


def id_key(uniqueid: str) -> tuple[int, int, str]:
    """Sort key of an Asterisk uniqueid (`[system-]epoch.sequence`): oldest first."""
    tail = uniqueid.rpartition("-")[2]
    seconds, _, sequence = tail.partition(".")
    if seconds.isdigit() and sequence.isdigit():
        return int(seconds), int(sequence), uniqueid
    return 1 << 62, 0, uniqueid


@dataclass(slots=True, eq=False)
class Channel:
    """One Asterisk channel the tracker follows."""

    uniqueid: str
    name: str
    linkedid: str
    kind: Kind
    ext: str | None
    created: float
    seen: float = 0.0  # time of the last event about this channel
    events: int = 1  # events that named this channel (evidence that it is real: see core)
    caller_num: str = ""
    caller_name: str = ""
    exten: str = ""  # dialplan extension when first seen: the DID for an inbound trunk channel
    down_at_start: bool = False  # created by a request (dial/originate), not by an incoming call
    bridge: str | None = None
    peer: str | None = None  # the other half of a Local pair
    dialled_by: str | None = None
    dialled_at: float | None = None  # when a DialBegin started ringing this channel
    dials: list[str] = field(default_factory=list)  # uniqueids this channel dialled
    unanswered_ext: str | None = None  # the employee this channel last dialled in vain
    forward_of: str | None = None  # an external party dialled as that employee's forwarding


@dataclass(slots=True)
class Leg:
    """A stretch of time an employee talked to the client (end None while it lasts)."""

    ext: str
    start: float
    end: float | None = None


@dataclass(slots=True, frozen=True)
class TransferNote:
    """A transfer seen in the events."""

    kind: TransferKind
    from_ext: str
    to_ext: str
    at: float


@dataclass(slots=True, eq=False)
class Conversation:
    """Everything known about one conversation in progress (a group of linkedids)."""

    linkedids: set[str]
    started: float
    # Linkedids of interception attempts filed under this conversation (see interception.py):
    # looked up like linkedids, never its id.
    aliases: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)  # alive uniqueids
    origin: Channel | None = None  # first phone channel: who started the conversation
    client_uid: str | None = None  # the channel whose talks with employees make the legs
    external: Channel | None = None  # the first external party dialled (outbound client)
    dialled: str = ""  # the number the origin dialled towards `external`
    originated: bool = False
    partial: bool = False  # attached in the middle: its start was not seen
    interrupted: bool = False
    rang: dict[str, float] = field(default_factory=dict)  # extension → first ring time
    legs: list[Leg] = field(default_factory=list)
    transfers: list[TransferNote] = field(default_factory=list)
    queue: str | None = None
    queue_name: str | None = None
    pickup: bool = False
    recordings: list[str] = field(default_factory=list)
    dial_count: int = 0
    dial_answers: list[tuple[float, str]] = field(default_factory=list)  # (time, ext) of DialEnd ANSWER
    outer_status: str = ""  # DialStatus of the last dial made by a phone (or an originate)
    causes: dict[str, int] = field(default_factory=dict)  # uniqueid → hangup cause (origin, client)
    hangup_side: str | None = None
    hangup_after_talk: str | None = None  # side of the first hangup after the talk ended (see core)
    client_name: str | None = None
    intercepted_by: str | None = None  # the responsible manager rung by interception
    # Evidence for the reason of an unanswered call (see dialplan.py and records.reason).
    closed_hours: bool = False  # the dialplan took an out-of-hours branch
    ivr: bool = False  # a voice menu waited for the caller's digits
    announced: bool = False  # a recording was played to the caller
    refused: str = ""  # "busy" / "congestion": the dialplan refused the call itself
    voicemail_box: str | None = None
    voicemail_left: bool = False

    @property
    def call_id(self) -> str:
        """The conversation id: its oldest (smallest) linkedid."""
        return min(self.linkedids, key=id_key)

    def open_legs(self) -> dict[str, Leg]:
        """The legs still going on, by extension."""
        return {leg.ext: leg for leg in self.legs if leg.end is None}

"""The tracker's mechanics shared by every event family: finding channels from event
snapshots, grouping linkedids into conversations, following legs, finishing calls.

Grouping: every channel belongs to the conversation of its linkedid. When Asterisk rewrites a
channel's linkedid (it joined a bridge with an older conversation: attended transfer, pickup),
or a dial, bridge, Local pair, pickup or transfer links two channels of different
conversations, the two conversations merge; the older one (the client's) survives and is named
by the smallest linkedid. A conversation is finished when its last channel hangs up; its state
is then released, and the uniqueids of its channels are remembered (a bounded number) so that
late or duplicated events about them are ignored instead of starting ghost calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import replace

from connector import logs
from connector.calls import legs, records
from connector.calls.model import Call, LiveEvent, LiveKind
from connector.calls.rules import TrackerRules
from connector.calls.state import Channel, Conversation, Kind, classify, id_key

log = logs.get_logger(__name__)

AmiEvent = Mapping[str, str | list[str]]
Emitted = LiveEvent | Call

# How many bridges keep the list of channels they ever held (`Tracking.bridge_history`), and how
# many channels each list keeps: enough for every bridge of the calls in progress on a busy PBX.
REMEMBERED_BRIDGES = 4096
REMEMBERED_MEMBERS = 16
# Events that must name a conversation's first phone channel before the conversation is a call.
MIN_EVIDENCE = 2


def val(event: AmiEvent, key: str) -> str:
    """A header's value ('' when absent; the last value of a repeated header)."""
    value = event.get(key, "")
    if isinstance(value, str):
        return value
    return value[-1] if value else ""


def as_int(text: str) -> int | None:
    """`text` as an int, or None."""
    try:
        return int(text)
    except ValueError:
        return None


class Tracking:
    """State and mechanics of the tracker; `CallTracker` adds the event dispatch."""

    def __init__(self, rules: TrackerRules) -> None:
        self.rules = rules
        self.now = 0.0
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, set[str]] = {}
        self.by_linkedid: dict[str, Conversation] = {}
        self.conversations: set[Conversation] = set()
        self.local_halves: dict[str, str] = {}  # "Local/x@ctx-0001" → uniqueid of ;1, until ;2 arrives
        # Bridge → the uniqueids that were ever in it, in order of entry (oldest bridges dropped
        # first). An attended transfer's consultation bridge is often empty by the time
        # AttendedTransfer arrives (its members were merged away), and that event names the
        # target only when Asterisk wins a race (see transfers.py): this is where the target was.
        self.bridge_history: dict[str, list[str]] = {}
        self.out: list[Emitted] = []
        self._hung: set[str] = set()
        self._hung_order: deque[str] = deque()
        # Ids of the calls recorded lately (as many as hangups are remembered): a conversation
        # that forms again on a finished linkedid (a channel the tracker ignores dialled out under
        # it, or damaged events) is recorded under a new id, never over the first record.
        self._recorded: set[str] = set()
        self._recorded_order: deque[str] = deque()

    # -- channels ------------------------------------------------------------------------

    def channel(self, event: AmiEvent, prefix: str = "", create: bool = True) -> Channel | None:
        """The channel an event's snapshot (headers starting with `prefix`) describes."""
        uid = val(event, prefix + "Uniqueid")
        if not uid:
            return None
        linkedid = val(event, prefix + "Linkedid") or uid
        found = self.channels.get(uid)
        if found is not None:
            found.seen = self.now
            found.events += 1
            if linkedid != found.linkedid:
                self.relink(found, linkedid)
            return found
        if not create or uid in self._hung:
            return None
        return self._create(event, prefix, uid, linkedid)

    def _create(self, event: AmiEvent, prefix: str, uid: str, linkedid: str) -> Channel | None:
        name = val(event, prefix + "Channel")
        kind, ext = classify(name, self.rules)
        if kind is Kind.OTHER:
            return None
        # The conversation is seen whole only from the birth of the channel that started it (its
        # uniqueid is the linkedid); a Newchannel of a later leg means its start was missed.
        whole = val(event, "Event") == "Newchannel" and uid == linkedid
        channel = Channel(
            uniqueid=uid,
            name=name,
            linkedid=linkedid,
            kind=kind,
            ext=ext,
            created=self.now,
            seen=self.now,
            caller_num=val(event, prefix + "CallerIDNum"),
            caller_name=val(event, prefix + "CallerIDName"),
            exten=val(event, prefix + "Exten"),
            down_at_start=val(event, prefix + "ChannelState") == "0",
        )
        self.channels[uid] = channel
        conv = self.by_linkedid.get(linkedid)
        if conv is None:
            conv = Conversation({linkedid}, started=self.now, partial=not whole)
            conv.originated = whole and kind is Kind.LOCAL and channel.down_at_start
            self.by_linkedid[linkedid] = conv
            self.conversations.add(conv)
            if (
                len(self.conversations) > self.rules.max_calls_in_progress
                or len(self.channels) > self.rules.max_channels
            ):
                self._shed(keep=conv)
        conv.channels.add(uid)
        if kind is Kind.LOCAL:
            self._pair_local(channel)
        elif conv.origin is None or (conv.partial and uid == linkedid and conv.origin.uniqueid != linkedid):
            # Attached mid-call: the channel whose uniqueid is the linkedid started the call.
            self._set_origin(conv, channel)
        return channel

    def _set_origin(self, conv: Conversation, channel: Channel) -> None:
        conv.origin = channel
        conv.client_uid = channel.uniqueid
        if channel.kind is Kind.EXTERNAL and channel.caller_name not in ("", "<unknown>"):
            conv.client_name = channel.caller_name

    def _pair_local(self, channel: Channel) -> None:
        base, _, half = channel.name.rpartition(";")
        if half == "1":
            self.local_halves[base] = channel.uniqueid
        elif half == "2" and base in self.local_halves:
            self.link_local(self.local_halves.pop(base), channel.uniqueid)

    def link_local(self, one: str, two: str) -> None:
        """Mark two channels as the halves of one Local channel (same conversation)."""
        first, second = self.channels.get(one), self.channels.get(two)
        if first is None or second is None:
            return
        first.peer, second.peer = two, one
        self.merge(self.conv_of(first), self.conv_of(second))

    def conv_of(self, channel: Channel) -> Conversation:
        """The conversation a channel belongs to."""
        return self.by_linkedid[channel.linkedid]

    def relink(self, channel: Channel, linkedid: str) -> None:
        """Asterisk gave `channel` a new linkedid: join the conversations it now links."""
        old = self.by_linkedid[channel.linkedid]
        channel.linkedid = linkedid
        target = self.by_linkedid.get(linkedid)
        if target is None:
            old.linkedids.add(linkedid)
            self.by_linkedid[linkedid] = old
        elif target is not old:
            self.merge(old, target)

    def remember_member(self, bridge: str, uid: str) -> None:
        """Note that channel `uid` was in `bridge` (see `bridge_history`)."""
        members = self.bridge_history.get(bridge)
        if members is None:
            members = self.bridge_history[bridge] = []
            if len(self.bridge_history) > REMEMBERED_BRIDGES:
                del self.bridge_history[next(iter(self.bridge_history))]
        if uid not in members and len(members) < REMEMBERED_MEMBERS:
            members.append(uid)

    def _shed(self, keep: Conversation) -> None:
        """Too many calls or channels followed: close the oldest calls as interrupted.

        Channels that never hang up (a flood, a PBX that lost its hangups) would otherwise hold
        memory until their lifetime ends. A hundredth of the limit goes at once, so a flood costs
        one sort per that many new calls; each shed call is logged and recorded (interrupted).
        """
        batch = max(1, self.rules.max_calls_in_progress // 100)
        oldest = sorted((c for c in self.conversations if c is not keep), key=lambda c: c.started)[:batch]
        for conv in oldest:
            log.warning(
                "calls.shed",
                call_id=conv.call_id,
                in_progress=len(self.conversations),
                channels=len(self.channels),
                started=conv.started,
            )
            self.finish(conv, interrupted=True)

    # -- conversations ---------------------------------------------------------------------

    def merge(self, a: Conversation, b: Conversation) -> Conversation:
        """Join two conversations; the older survives, keeping its client and legs."""
        if a is b:
            return a
        older, younger = (
            (a, b) if (a.started, id_key(a.call_id)) <= (b.started, id_key(b.call_id)) else (b, a)
        )
        for linkedid in younger.linkedids | younger.aliases:
            self.by_linkedid[linkedid] = older
        older.linkedids |= younger.linkedids
        older.aliases |= younger.aliases
        older.channels |= younger.channels
        if older.origin is None:
            _adopt_parties(older, younger)
        for ext, at in younger.rang.items():
            older.rang[ext] = min(at, older.rang.get(ext, at))
        older.transfers.extend(t for t in younger.transfers if t not in older.transfers)
        older.recordings.extend(r for r in younger.recordings if r not in older.recordings)
        older.queue = older.queue or younger.queue
        older.pickup = older.pickup or younger.pickup
        older.external = older.external or younger.external
        older.dialled = older.dialled or younger.dialled
        older.dial_count += younger.dial_count
        older.outer_status = older.outer_status or younger.outer_status
        older.causes.update(younger.causes)
        older.partial = older.partial or younger.partial
        older.client_name = older.client_name or younger.client_name
        older.intercepted_by = older.intercepted_by or younger.intercepted_by
        older.closed_hours = older.closed_hours or younger.closed_hours
        older.ivr = older.ivr or younger.ivr
        older.announced = older.announced or younger.announced
        older.refused = older.refused or younger.refused
        older.voicemail_box = older.voicemail_box or younger.voicemail_box
        older.voicemail_left = older.voicemail_left or younger.voicemail_left
        self.conversations.discard(younger)
        self.refresh(older)
        return older

    def refresh(self, conv: Conversation) -> None:
        """Recompute who talks to the client; open and close legs; announce new answers."""
        last = conv.legs[-1].ext if conv.legs else None
        unanswered = not conv.legs
        now_talking = legs.talking(conv, self.channels, self.bridges)
        for ext in legs.update(conv, now_talking, self.now):
            if unanswered and self._picked_up(conv, now_talking[ext]):
                conv.pickup = True
            conv.hangup_after_talk = None  # the talk goes on: whoever hung up before did not end it
            if ext != last:
                self.emit_live(conv, LiveKind.ANSWERED, exten=ext)

    def _picked_up(self, conv: Conversation, uid: str) -> bool:
        """Whether the first employee to talk answered a ringing call without being dialled: a
        pickup, whatever announced it (the Pickup event may be missing: a BLF pickup by INVITE with
        Replaces, an older Asterisk, a filtered event class). A phone the PBX dialled, the call's
        own origin and an originate's employee are never pickers."""
        channel = self.channels.get(uid)
        return (
            channel is not None
            and bool(conv.rang)
            and channel.dialled_at is None
            and channel is not conv.origin
            and not conv.originated
        )

    def ring(self, conv: Conversation, ext: str, order: float | None = None) -> None:
        """An employee's phone rings in `conv`; `order` ranks it in `rang` (default: now)."""
        if ext not in conv.rang:
            conv.rang[ext] = self.now if order is None else order
            self.emit_live(conv, LiveKind.RINGING, exten=ext)

    def emit_live(self, conv: Conversation, kind: LiveKind, **extra: str | None) -> None:
        """Queue a live event about `conv` for the caller of `feed`."""
        self.out.append(records.live(conv, self.rules, kind, self.now, **extra))

    def note_hangup_side(self, channel: Channel, requested: bool) -> None:
        """Remember who hung up first: the client, or an employee talking to them.

        A HangupRequest (`requested`: the far end sent BYE) names its side at once. A Hangup
        with no request before it (an AMI Hangup, the dialplan) arrives after the channel
        already left the bridge, so the talk is over and the legs closed: then the first of the
        client and the last employee to hang up is only a candidate (`hangup_after_talk`),
        dropped if the client talks to someone again (a blind transfer), used when the call ends.
        """
        conv = self.conv_of(channel)
        if conv.hangup_side is not None:
            return
        is_client = channel.uniqueid == conv.client_uid
        talking = conv.open_legs()
        if requested or talking or not conv.legs:
            if is_client:
                conv.hangup_side = "client"
            elif channel.ext is not None and talking.get(channel.ext) is not None:
                conv.hangup_side = "employee"
        elif conv.hangup_after_talk is None:
            if is_client:
                conv.hangup_after_talk = "client"
            elif channel.ext is not None and channel.ext == conv.legs[-1].ext:
                conv.hangup_after_talk = "employee"

    def remove_channel(self, channel: Channel, cause: int | None) -> None:
        """The channel hung up: forget it, and finish its conversation if it was the last."""
        conv = self.conv_of(channel)
        self._forget(channel)
        conv.channels.discard(channel.uniqueid)
        origin = conv.origin.uniqueid if conv.origin is not None else None
        if cause is not None and channel.uniqueid in (conv.client_uid, origin):
            conv.causes[channel.uniqueid] = cause
        self.refresh(conv)
        if not conv.channels or all(self._waiting_attempt(conv, uid) for uid in conv.channels):
            # An interception attempt still ringing does not keep the caller's call open: the
            # call is over (and its end is what tells the daemon to stop that attempt).
            self.finish(conv)

    def _waiting_attempt(self, conv: Conversation, uid: str) -> bool:
        channel = self.channels.get(uid)
        return channel is not None and channel.linkedid in conv.aliases

    def is_attempt(self, channel: Channel) -> bool:
        """Whether `channel` belongs to an interception attempt (see interception.py)."""
        aliases = self.conv_of(channel).aliases
        return channel.linkedid in aliases or channel.uniqueid in aliases

    def _forget(self, channel: Channel) -> None:
        uid = channel.uniqueid
        if channel.bridge is not None:
            members = self.bridges.get(channel.bridge)
            if members is not None:
                members.discard(uid)
                if not members:
                    del self.bridges[channel.bridge]
        if channel.peer is not None and channel.peer in self.channels:
            self.channels[channel.peer].peer = None
        if self.local_halves.get(channel.name.rpartition(";")[0]) == uid:
            del self.local_halves[channel.name.rpartition(";")[0]]
        self.channels.pop(uid, None)
        self._hung.add(uid)
        self._hung_order.append(uid)
        if len(self._hung_order) > self.rules.remembered_hangups:
            self._hung.discard(self._hung_order.popleft())

    def finish(self, conv: Conversation, interrupted: bool = False) -> None:
        """Close `conv`, release its state and emit its record (and the `ended` event).

        A call closed without its hangups (interrupted) ends at its last sign of life: the
        last event seen about any of its channels.
        """
        conv.interrupted = conv.interrupted or interrupted
        conv.hangup_side = conv.hangup_side or conv.hangup_after_talk
        end = self.now
        if interrupted:
            end = max(
                [conv.started, *(self.channels[uid].seen for uid in conv.channels if uid in self.channels)]
            )
        for uid in list(conv.channels):
            if uid in self.channels:
                self._forget(self.channels[uid])
        conv.channels.clear()
        for linkedid in conv.linkedids | conv.aliases:
            if self.by_linkedid.get(linkedid) is conv:
                del self.by_linkedid[linkedid]
        self.conversations.discard(conv)
        for leg in conv.legs:
            if leg.end is None:
                leg.end = end
        if not _worth_a_record(conv):
            return
        call = records.build_call(conv, self.rules, end)
        if call is not None:
            self.emit_live(conv, LiveKind.ENDED)
            self.out.append(self._first_use(call))

    def _first_use(self, call: Call) -> Call:
        """`call`, under an id no recent record has (`<id>-2`, `<id>-3`... when it is taken)."""
        unique, n = call.id, 1
        while unique in self._recorded:
            n += 1
            unique = f"{call.id}-{n}"
        if unique != call.id:
            log.warning("tracker.call_formed_again", call_id=call.id, recorded_as=unique)
            call = replace(call, id=unique)
        self._recorded.add(unique)
        self._recorded_order.append(unique)
        if len(self._recorded_order) > self.rules.remembered_hangups:
            self._recorded.discard(self._recorded_order.popleft())
        return call


def _adopt_parties(older: Conversation, younger: Conversation) -> None:
    older.origin = younger.origin
    older.client_uid = younger.client_uid
    older.legs = younger.legs
    older.originated = older.originated or younger.originated
    older.hangup_side = younger.hangup_side
    older.hangup_after_talk = younger.hangup_after_talk


def _worth_a_record(conv: Conversation) -> bool:
    """A conversation is a call when a phone took part and someone was dialled or reached it (or
    the dialplan refused the number a phone dialled), and
    its first phone channel was named by at least two events (born, then anything else: a
    dialplan step, a dial, a bridge, its hangup): a lone mangled event never makes a call."""
    origin = conv.origin
    if origin is None or origin.events < MIN_EVIDENCE:
        return False
    if origin.kind is Kind.EXTERNAL or conv.dial_count or conv.pickup or conv.queue:
        return True
    # Refused by the dialplan before any dial (Busy() for an extension on a call): a person
    # dialled a number, so the attempt is a call.
    return bool(conv.refused and conv.dialled)

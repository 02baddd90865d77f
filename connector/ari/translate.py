"""ARI events → the AMI events the call tracker reads, so the tracker stays one and pure.

ARI (`/ari/events?subscribeAll=true`) reports the same Stasis messages AMI does, as JSON with a
full channel snapshot in each event. What it lacks is derived here (docs/ari.md has the table):

- `Linkedid`: ARI's channel model has none. Asterisk's own rule is rebuilt: a channel starts its
  own conversation, a channel dialled by another (`Dial` with an empty `dialstatus`) or the
  second half of a Local pair takes its originator's, and every channel in a bridge takes the
  oldest linkedid there (main/bridge.c `ast_bridge_channel_update_linkedids`, run when a
  channel is pushed into a basic or mixing bridge). A linkedid Asterisk set at birth but ARI
  tells only later (a transfer's Local channel learns it when the transferer joins it) is
  never copied while unknown: whoever the unknown channel dials follows it until it is known,
  so the result does not depend on which of the two threads' events comes first.
- `Timestamp`: ARI stamps events in milliseconds (ISO 8601); AMI in microseconds (epoch).
- `QueueCallerJoin`: no ARI event; the dialplan entering `Queue()` (ChannelDialplan) stands for it.
- `DialBegin`/`DialState`/`DialEnd`: one ARI `Dial` event, told apart by its `dialstatus`.
- `Rename`: no ARI event; a channel whose snapshot comes with another name than before (a
  masquerade: BLF pickup by INVITE with Replaces) is announced as AMI's Rename first.
- No equivalent at all: LocalBridge (the tracker pairs Local halves by name anyway), Pickup (the
  tracker knows a pickup by the dial a phone answered that it never rang), OriginateResponse,
  Cdr, AgentCalled, UserEvent bodies beyond their fields.

The translator is bounded: it remembers at most `MAX_CHANNELS` channels' linkedids.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connector.calls.state import id_key

AmiEvent = dict[str, str | list[str]]
Json = Mapping[str, Any]

MAX_CHANNELS = 50_000
"""Channels whose derived linkedid is remembered (oldest forgotten first)."""

MAX_HELD = 1000
"""Events held back while a new channel's linkedid is unknown (see `Translator.__call__`): a
busy dialplan sets dozens of variables between a channel's birth and the Dial naming it."""
# The pseudo-applications a dialled channel shows before the Dial (or queue call) names it.
_DIALLED_APPS = frozenset({"AppDial", "AppDial2", "AppQueue"})
# Links followed from a channel to the one its linkedid comes from: a peer follows a Local ;2
# half, which follows its ;1 half, which may follow its own caller (bounded against loops).
_CHAIN = 8
_SETUP = frozenset(
    {"ChannelVarset", "ChannelCallerId", "ChannelConnectedLine", "ChannelCreated", "ChannelStateChange"}
)

# ARI's channel states → AMI's ChannelState numbers (include/asterisk/channelstate.h).
STATES = {
    "Down": "0",
    "Rsrvd": "1",
    "OffHook": "2",
    "Dialing": "3",
    "Ring": "4",
    "Ringing": "5",
    "Up": "6",
    "Busy": "7",
    "Dialing Offhook": "8",
    "Pre-ring": "9",
}
_DIAL_PROGRESS = frozenset({"RINGING", "PROGRESS", "PROCEEDING"})
# ARI's attended transfer destination_type → AMI's DestType.
_DEST_TYPES = {
    "bridge": "Bridge",
    "application": "App",
    "link": "Link",
    "threeway": "Threeway",
    "fail": "Fail",
}
# Event types that carry only a channel snapshot, and the AMI event they become.
_PLAIN = {
    "ChannelCreated": "Newchannel",
    "ChannelStateChange": "Newstate",
    "ChannelCallerId": "NewCallerid",
    "ChannelConnectedLine": "NewConnectedLine",
}


def timestamp(text: object) -> str:
    """ARI's ISO 8601 time ("2026-12-05T09:02:09.873+0000") as AMI's epoch seconds ('' if bad)."""
    if not isinstance(text, str) or not text:
        return ""
    try:
        return f"{datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%f%z').timestamp():.6f}"
    except ValueError:
        return ""


class Translator:
    """Turns ARI events into AMI-shaped events, one ARI event at a time, in order."""

    def __init__(self) -> None:
        self._linkedid: OrderedDict[str, str] = OrderedDict()
        self._names: OrderedDict[str, str] = OrderedDict()  # uniqueid → the name last seen
        self._renamed: list[AmiEvent] = []  # Rename snapshots found while translating one event
        self._local_one: dict[str, str] = {}  # "Local/x@ctx-0001" → uniqueid of its ;1 half
        self._halves: dict[str, str] = {}  # uniqueid of a Local ;2 half → that of its ;1 half
        self._pending: set[str] = set()  # new channels whose linkedid may still come with a Dial
        self._held: list[Json] = []
        self._dialled: set[str] = set()  # held channels seen in AppDial: only their Dial settles them
        self._follows: dict[str, str] = {}  # held peer → its caller, whose birth linkedid is unknown
        self.untranslated = 0  # events of a type without an AMI counterpart

    def __call__(self, event: Json) -> list[AmiEvent]:
        """The AMI events that ARI events up to `event` stand for, in order ([] while held).

        A new channel's events are held until its linkedid is known: the `Dial` that names it
        as the peer comes after its `ChannelCreated` (and its caller id and variables), while
        Asterisk had given it the caller's linkedid at birth. Everything behind a held creation
        waits too, so the order is kept; `flush()` releases what is held (the client calls it
        when the socket goes quiet), and at most `MAX_HELD` events are ever held.
        """
        if event.get("type") == "ChannelCreated" and isinstance(event.get("channel"), Mapping):
            self._created(event["channel"])
            if event["channel"].get("state") != "Ring":
                # A channel born ringing is a phone's or trunk's own call: Asterisk gives it no
                # requestor's linkedid, so there is nothing to wait for (a picker's *8 is one).
                self._pending.add(str(event["channel"].get("id", "")))
        elif self._pending:
            self._settle(event)
        self._held.append(event)
        if self._pending and len(self._held) < MAX_HELD:
            return []
        return self.flush()

    def flush(self) -> list[AmiEvent]:
        """Translate every held event now (their new channels keep their own linkedids)."""
        known = {peer: self.linkedid(caller) for peer, caller in self._follows.items()}
        self._follows.clear()
        for peer, linkedid in known.items():
            self._remember(peer, linkedid)
        self._pending.clear()
        self._dialled.clear()
        held, self._held = self._held, []
        return [out for item in held for out in self._translate(item)]

    def _settle(self, event: Json) -> None:
        """Whether `event` tells a held channel's linkedid (a Dial), or that it has none to learn."""
        kind = event.get("type")
        if kind == "Dial" and not event.get("dialstatus"):
            peer, caller = event.get("peer") or {}, event.get("caller")
            peer_id = str(peer.get("id", ""))
            if peer_id in self._pending and isinstance(caller, Mapping):
                self._pending.discard(peer_id)
                caller_id = str(caller.get("id", ""))
                if self._unsettled(caller_id):
                    # The caller's own linkedid is still to be learned: copying its provisional
                    # value here would fix the peer on the wrong conversation.
                    self._follows[peer_id] = caller_id
                else:
                    self._remember(peer_id, self.linkedid(caller_id))
            return
        channel = event.get("channel")
        if event.get("dialplan_app") in _DIALLED_APPS and isinstance(channel, Mapping):
            # Dialled: its Dial will come, after any pre-dial handler (Dial's b() option, which
            # MikoPBX uses) has run its own dialplan steps on it
            self._dialled.add(str(channel.get("id", "")))
            return
        if kind in _SETUP:
            return  # caller id, state and variables may all come before the Dial
        if kind == "ChannelEnteredBridge" and isinstance(channel, Mapping):
            # A transfer's Local channel enters a bridge alone; the transferer joining it
            # brings the linkedid Asterisk gave the Local channel at birth.
            members = [str(m) for m in (event.get("bridge") or {}).get("channels") or ()]
            known = [self.linkedid(m) for m in members if not self._unsettled(m)]
            if len(members) < 2 or not known:
                return  # alone, or among channels whose linkedids are as unknown as its own
            oldest = min(known, key=id_key)
            for member in members:
                if member in self._pending:
                    self._pending.discard(member)
                    self._remember(member, oldest)
            return
        if isinstance(channel, Mapping) and str(channel.get("id", "")) not in self._dialled:
            self._pending.discard(str(channel.get("id", "")))  # it acts on its own: nobody dialled it

    def _translate(self, event: Json) -> list[AmiEvent]:
        kind = event.get("type")
        if not isinstance(kind, str):
            return []
        handler = _HANDLERS.get(kind)
        if handler is None:
            if kind in _PLAIN and isinstance(event.get("channel"), Mapping):
                out = [self._event(_PLAIN[kind], event, self._snapshot(event["channel"], create=True))]
            else:
                self.untranslated += 1
                out = []
        else:
            out = handler(self, event)
        renamed, self._renamed = self._renamed, []
        return [self._event("Rename", event, snap) for snap in renamed] + out

    # -- linkedids -----------------------------------------------------------------------------

    def linkedid(self, uid: str) -> str:
        """The derived linkedid of a channel (its own uniqueid until something links it; the
        second half of a Local pair shares the first half's)."""
        for _ in range(_CHAIN):
            found = self._linkedid.get(uid)
            if found is not None:
                return found
            after = self._after(uid)
            if after is None:
                break
            uid = after
        return uid

    def _unsettled(self, uid: str) -> bool:
        """Whether a held channel's linkedid, or the one it takes after, is still to be learned."""
        for _ in range(_CHAIN):
            if uid in self._pending:
                return True
            after = None if uid in self._linkedid else self._after(uid)
            if after is None:
                return False
            uid = after
        return False

    def _after(self, uid: str) -> str | None:
        """The channel whose linkedid `uid` takes: the caller it follows, or its Local ;1 half."""
        return self._follows.get(uid) or self._halves.get(uid)

    def seed(self, uid: str, linkedid: str) -> None:
        """Take a channel's linkedid from a resync snapshot (the tracker adopted it so)."""
        if uid and linkedid:
            self._remember(uid, linkedid)

    def _remember(self, uid: str, linkedid: str) -> None:
        self._linkedid[uid] = linkedid
        self._linkedid.move_to_end(uid)
        while len(self._linkedid) > MAX_CHANNELS:
            self._linkedid.popitem(last=False)

    def _created(self, channel: Json) -> None:
        """Note a new channel; the second half of a Local pair follows its first half."""
        uid, name = str(channel.get("id", "")), str(channel.get("name", ""))
        if uid in self._linkedid or uid in self._halves:
            return
        base, _, half = name.rpartition(";")
        if name.startswith("Local/") and half == "1":
            self._local_one[base] = uid
            while len(self._local_one) > MAX_CHANNELS:
                self._local_one.pop(next(iter(self._local_one)))
        elif name.startswith("Local/") and half == "2" and base in self._local_one:
            self._halves[uid] = self._local_one.pop(base)
            while len(self._halves) > MAX_CHANNELS:
                self._halves.pop(next(iter(self._halves)))

    # -- building AMI events -------------------------------------------------------------------

    def _snapshot(self, channel: Json, prefix: str = "", *, create: bool = False) -> AmiEvent:
        """AMI's channel snapshot headers (Channel, Uniqueid, Linkedid, ...) with `prefix`."""
        if create:
            self._created(channel)
        uid = str(channel.get("id", ""))
        self._note_name(uid, str(channel.get("name", "")))
        caller = channel.get("caller") or {}
        connected = channel.get("connected") or {}
        dialplan = channel.get("dialplan") or {}
        state = str(channel.get("state", ""))
        return {
            prefix + "Channel": str(channel.get("name", "")),
            prefix + "ChannelState": STATES.get(state, ""),
            prefix + "ChannelStateDesc": state,
            prefix + "CallerIDNum": str(caller.get("number", "")),
            prefix + "CallerIDName": str(caller.get("name", "")),
            prefix + "ConnectedLineNum": str(connected.get("number", "")),
            prefix + "ConnectedLineName": str(connected.get("name", "")),
            prefix + "AccountCode": str(channel.get("accountcode", "")),
            prefix + "Context": str(dialplan.get("context", "")),
            prefix + "Exten": str(dialplan.get("exten", "")),
            prefix + "Priority": str(dialplan.get("priority", "")),
            prefix + "Uniqueid": uid,
            prefix + "Linkedid": self.linkedid(uid),
        }

    def _note_name(self, uid: str, name: str) -> None:
        """Remember a channel's name; a new one is AMI's Rename (old name, Newname, Uniqueid)."""
        old = self._names.get(uid)
        self._names[uid] = name
        self._names.move_to_end(uid)
        while len(self._names) > MAX_CHANNELS:
            self._names.popitem(last=False)
        if old is not None and old != name and uid:
            self._renamed.append(
                {"Channel": old, "Newname": name, "Uniqueid": uid, "Linkedid": self.linkedid(uid)}
            )

    def _event(
        self, name: str, event: Json, *parts: Mapping[str, str | list[str]], **headers: str
    ) -> AmiEvent:
        out: AmiEvent = {"Event": name, "Timestamp": timestamp(event.get("timestamp"))}
        for part in parts:
            out.update(part)
        out.update(headers)
        return out

    def _channel_of(self, event: Json, key: str = "channel", prefix: str = "") -> AmiEvent | None:
        channel = event.get(key)
        return self._snapshot(channel, prefix) if isinstance(channel, Mapping) else None

    # -- handlers ------------------------------------------------------------------------------

    def _dialplan(self, event: Json) -> list[AmiEvent]:
        snap = self._channel_of(event)
        if snap is None:
            return []
        app, data = str(event.get("dialplan_app", "")), str(event.get("dialplan_app_data", ""))
        out = [self._event("Newexten", event, snap, Application=app, AppData=data)]
        if app.lower() == "queue" and data:
            # AMI's QueueCallerJoin names the queue; ARI only shows the dialplan entering Queue().
            out.append(self._event("QueueCallerJoin", event, snap, Queue=data.partition(",")[0]))
        return out

    def _varset(self, event: Json) -> list[AmiEvent]:
        snap = self._channel_of(event)
        if snap is None:
            return []  # a global variable: AMI's VarSet without a channel, never tracked
        value = {"Variable": str(event.get("variable", "")), "Value": str(event.get("value", ""))}
        return [self._event("VarSet", event, snap, **value)]

    def _hangup_request(self, event: Json) -> list[AmiEvent]:
        snap = self._channel_of(event)
        if snap is None:
            return []
        name = "SoftHangupRequest" if event.get("soft") else "HangupRequest"
        return [self._event(name, event, snap, Cause=str(event.get("cause", "")))]

    def _destroyed(self, event: Json) -> list[AmiEvent]:
        snap = self._channel_of(event)
        if snap is None:
            return []
        cause = {"Cause": str(event.get("cause", "")), "Cause-txt": str(event.get("cause_txt", ""))}
        return [self._event("Hangup", event, snap, **cause)]

    def _dial(self, event: Json) -> list[AmiEvent]:
        peer, caller = event.get("peer"), event.get("caller")
        if not isinstance(peer, Mapping):
            return []
        status = str(event.get("dialstatus", ""))
        if not status and isinstance(caller, Mapping):
            # Asterisk gives the dialled channel its caller's linkedid when it creates it.
            self._created(peer)
            peer_id = str(peer.get("id", ""))
            if self.linkedid(peer_id) == peer_id:
                self._remember(peer_id, self.linkedid(str(caller.get("id", ""))))
        dest = self._snapshot(peer, "Dest")
        source = self._snapshot(caller) if isinstance(caller, Mapping) else {}
        if not status:
            return [
                self._event("DialBegin", event, source, dest, DialString=str(event.get("dialstring", "")))
            ]
        if status in _DIAL_PROGRESS:
            return [self._event("DialState", event, source, dest, DialStatus=status)]
        forward = {"Forward": str(event["forward"])} if event.get("forward") else {}
        return [self._event("DialEnd", event, source, dest, DialStatus=status, **forward)]

    def _bridge(self, event: Json) -> dict[str, str]:
        bridge = event.get("bridge") or {}
        return {
            "BridgeUniqueid": str(bridge.get("id", "")),
            "BridgeType": str(bridge.get("bridge_class", "")),
            "BridgeTechnology": str(bridge.get("technology", "")),
            "BridgeCreator": str(bridge.get("creator", "")),
            "BridgeName": str(bridge.get("name", "")),
            "BridgeNumChannels": str(len(bridge.get("channels") or ())),
        }

    def _entered(self, event: Json) -> list[AmiEvent]:
        channel = event.get("channel")
        if not isinstance(channel, Mapping):
            return []
        members = [str(m) for m in (event.get("bridge") or {}).get("channels") or ()]
        if len(members) > 1:
            # Bridged channels share the oldest linkedid among them (Asterisk's linkedid rule).
            oldest = min((self.linkedid(m) for m in members), key=id_key)
            for member in members:
                if self.linkedid(member) != oldest:
                    self._remember(member, oldest)
        return [self._event("BridgeEnter", event, self._snapshot(channel), self._bridge(event))]

    def _left(self, event: Json) -> list[AmiEvent]:
        snap = self._channel_of(event)
        return [] if snap is None else [self._event("BridgeLeave", event, snap, self._bridge(event))]

    def _bridge_life(self, event: Json) -> list[AmiEvent]:
        name = "BridgeCreate" if event.get("type") == "BridgeCreated" else "BridgeDestroy"
        return [self._event(name, event, self._bridge(event))]

    def _merged(self, event: Json) -> list[AmiEvent]:
        to, source = event.get("bridge") or {}, event.get("bridge_from") or {}
        ids = {"ToBridgeUniqueid": str(to.get("id", "")), "FromBridgeUniqueid": str(source.get("id", ""))}
        return [self._event("BridgeMerge", event, **ids)]

    def _blind(self, event: Json) -> list[AmiEvent]:
        parts = [
            self._channel_of(event, "channel", "Transferer") or {},
            self._channel_of(event, "transferee", "Transferee") or {},
        ]
        bridge = self._bridge(event)
        return [
            self._event(
                "BlindTransfer",
                event,
                *parts,
                Result=str(event.get("result", "")),
                IsExternal="Yes" if event.get("is_external") else "No",
                Context=str(event.get("context", "")),
                Extension=str(event.get("exten", "")),
                BridgeUniqueid=bridge["BridgeUniqueid"],
            )
        ]

    def _attended(self, event: Json) -> list[AmiEvent]:
        parts = [
            self._channel_of(event, "transferer_first_leg", "OrigTransferer") or {},
            self._channel_of(event, "transferer_second_leg", "SecondTransferer") or {},
            self._channel_of(event, "transferee", "Transferee") or {},
            self._channel_of(event, "transfer_target", "TransferTarget") or {},
            self._channel_of(event, "destination_link_first_leg", "LocalOne") or {},
            self._channel_of(event, "destination_link_second_leg", "LocalTwo") or {},
        ]
        first, second = event.get("transferer_first_leg_bridge"), event.get("transferer_second_leg_bridge")
        return [
            self._event(
                "AttendedTransfer",
                event,
                *parts,
                Result=str(event.get("result", "")),
                IsExternal="Yes" if event.get("is_external") else "No",
                DestType=_DEST_TYPES.get(str(event.get("destination_type", "")), ""),
                DestBridgeUniqueid=str(event.get("destination_bridge", "")),
                DestApp=str(event.get("destination_application", "")),
                OrigBridgeUniqueid=str((first or {}).get("id", "")),
                SecondBridgeUniqueid=str((second or {}).get("id", "")),
            )
        ]

    def _user_event(self, event: Json) -> list[AmiEvent]:
        snap = self._channel_of(event) or {}
        body = event.get("userevent") or {}
        fields = {str(k): str(v) for k, v in body.items() if isinstance(v, str | int | float)}
        return [self._event("UserEvent", event, snap, fields, UserEvent=str(event.get("eventname", "")))]


_HANDLERS = {
    "ChannelDialplan": Translator._dialplan,
    "ChannelVarset": Translator._varset,
    "ChannelHangupRequest": Translator._hangup_request,
    "ChannelDestroyed": Translator._destroyed,
    "Dial": Translator._dial,
    "ChannelEnteredBridge": Translator._entered,
    "ChannelLeftBridge": Translator._left,
    "BridgeCreated": Translator._bridge_life,
    "BridgeDestroyed": Translator._bridge_life,
    "BridgeMerged": Translator._merged,
    "BridgeBlindTransfer": Translator._blind,
    "BridgeAttendedTransfer": Translator._attended,
    "ChannelUserevent": Translator._user_event,
}

"""Synthetic AMI event sequences in the shape older Asterisk releases send (chan_sip, IAX2,
Asterisk 16 headers), for patterns no committed capture covers. Built from the event
documentation and the order Asterisk emits them (docs/capture-format.md), not from a recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.calls.capture import AmiEvent
from connector.calls.model import Call
from connector.calls.rules import TrackerRules
from connector.calls.tracker import CallTracker

T0 = 1795000000.0


@dataclass
class Chan:
    """One channel of a synthetic sequence."""

    name: str
    uniqueid: str
    linkedid: str
    number: str = ""
    exten: str = ""
    context: str = "from-trunk"
    state: str = "0"

    def snapshot(self, prefix: str = "") -> dict[str, str]:
        """The channel snapshot headers (with `prefix`, e.g. Dest)."""
        return {
            f"{prefix}Channel": self.name,
            f"{prefix}ChannelState": self.state,
            f"{prefix}CallerIDNum": self.number,
            f"{prefix}CallerIDName": "",
            f"{prefix}Context": self.context,
            f"{prefix}Exten": self.exten,
            f"{prefix}Uniqueid": self.uniqueid,
            f"{prefix}Linkedid": self.linkedid,
        }


@dataclass
class Story:
    """Events appended in order, one 100 ms apart unless told."""

    events: list[AmiEvent] = field(default_factory=list)
    at: float = T0
    seq: int = 0

    def chan(self, name: str, linkedid: str | None = None, **kw: str) -> Chan:
        """A new channel (not announced yet)."""
        self.seq += 1
        uid = f"{int(T0)}.{self.seq}"
        return Chan(name=name, uniqueid=uid, linkedid=linkedid or uid, **kw)

    def add(self, event: str, *snaps: tuple[str, Chan], wait: float = 0.1, **headers: str) -> None:
        """Append `event` with the snapshots of `snaps` (prefix, channel) and `headers`."""
        self.at += wait
        body: dict[str, str] = {"Event": event, "Timestamp": f"{self.at:.6f}"}
        for prefix, chan in snaps:
            body.update(chan.snapshot(prefix))
        body.update(headers)
        self.events.append(body)

    def new(self, chan: Chan, state: str = "0") -> None:
        """Newchannel in `state` (chan_sip/IAX2/DAHDI: 0 Down even for an incoming call)."""
        chan.state = state
        self.add("Newchannel", ("", chan))

    def state(self, chan: Chan, state: str) -> None:
        """Newstate."""
        chan.state = state
        self.add("Newstate", ("", chan))

    def app(self, chan: Chan, application: str, data: str = "", context: str | None = None) -> None:
        """Newexten: the channel runs a dialplan application."""
        if context is not None:
            chan.context = context
        self.add(
            "Newexten", ("", chan), Application=application, AppData=data, Extension=chan.exten, Priority="1"
        )

    def dial(self, source: Chan | None, dest: Chan, dialstring: str) -> None:
        """DialBegin (no source: an originate)."""
        snaps = ([("", source)] if source else []) + [("Dest", dest)]
        self.add("DialBegin", *snaps, DialString=dialstring)

    def dial_end(self, source: Chan | None, dest: Chan, status: str) -> None:
        """DialEnd."""
        snaps = ([("", source)] if source else []) + [("Dest", dest)]
        self.add("DialEnd", *snaps, DialStatus=status)

    def bridge(self, bridge: str, *chans: Chan) -> None:
        """BridgeEnter for each channel."""
        for chan in chans:
            self.add(
                "BridgeEnter",
                ("", chan),
                BridgeUniqueid=bridge,
                BridgeType="basic",
                BridgeTechnology="simple_bridge",
            )

    def leave(self, bridge: str, *chans: Chan) -> None:
        """BridgeLeave for each channel."""
        for chan in chans:
            self.add("BridgeLeave", ("", chan), BridgeUniqueid=bridge, BridgeType="basic")

    def request(self, chan: Chan) -> None:
        """HangupRequest: the far end hung up (the caller's BYE)."""
        self.add("HangupRequest", ("", chan), Cause="16")

    def var(self, chan: Chan, variable: str, value: str) -> None:
        """VarSet."""
        self.add("VarSet", ("", chan), Variable=variable, Value=value)

    def hangup(self, chan: Chan, cause: str = "16", wait: float = 0.1) -> None:
        """HangupRequest-less Hangup."""
        self.add("Hangup", ("", chan), wait=wait, Cause=cause, **{"Cause-txt": "Normal Clearing"})


def run(events: list[AmiEvent], rules: TrackerRules | None = None) -> list[Call]:
    """The calls a fresh tracker emits for `events`, leftovers closed."""
    tracker = CallTracker(rules or TrackerRules(dids=("74951110001",)))
    calls = [x for e in events for x in tracker.feed(e) if isinstance(x, Call)]
    return calls + tracker.close_all()

"""Transfers and pickups: blind and attended transfers become transfer notes (and, through the
bridges that follow, new legs); a pickup joins the picker's call to the ringing one."""

from __future__ import annotations

from connector.calls import legs
from connector.calls.core import AmiEvent, Tracking, val
from connector.calls.model import LiveKind, TransferKind
from connector.calls.state import Channel, Conversation, Kind, TransferNote

# A blind transfer done through ARI (config/asterisk/crm-ari.conf): the dialplan redirects the
# client, for which Asterisk publishes no BlindTransfer, so it sends this user event first with
# BlindTransfer's own headers (Result, Transferer*, Transferee*, Extension).
BLIND_MARKER = "CrmBlindTransfer"


def on_blind_transfer(t: Tracking, event: AmiEvent) -> None:
    """BlindTransfer (or its marker): the client was sent to another extension through the dialplan."""
    if val(event, "Result") != "Success":
        return
    transferer = t.channel(event, "Transferer")
    transferee = t.channel(event, "Transferee")
    conv = _joined(t, transferer, transferee)
    if conv is None or transferer is None:
        return
    source = _employee(t, transferer, None)
    target = val(event, "Extension")
    if source and target:
        _note(t, conv, TransferKind.BLIND, source, target)


def on_attended_transfer(t: Tracking, event: AmiEvent) -> None:
    """AttendedTransfer: after a consultation the client was joined to its target."""
    if val(event, "Result") != "Success" or val(event, "DestType") in ("Fail", "Threeway"):
        return
    first = t.channel(event, "OrigTransferer")
    second = t.channel(event, "SecondTransferer")
    conv = _joined(t, first, second)
    for prefix in ("Transferee", "TransferTarget"):
        conv = _joined(t, t.channel(event, prefix), first) or conv
    if conv is None or first is None:
        return
    source = _employee(t, first, None)
    target = _target(t, event, first, second or first, source)
    if source and target and target != source:
        _note(t, conv, TransferKind.ATTENDED, source, target)


def _target(t: Tracking, event: AmiEvent, first: Channel, second: Channel, source: str | None) -> str | None:
    """The employee the client was transferred to (None if the events do not tell).

    The AttendedTransfer event names the target (TransferTarget*) only when Asterisk finds it
    at that moment, and in a transfer completed by the transferer hanging up it often does not:
    bridge_basic.c's get_transfer_parties() asks for the transferer's peer in the consultation
    bridge while the transferer's own thread is pulling it out of that bridge (already uncounted,
    not yet detached), and ast_bridge_peer() answers only for a two-party bridge, so about one
    event in three comes without TransferTarget*. Its BridgeMerge has by then moved the target's
    channel out of the consultation bridge, so that bridge is empty either way. Candidates, best
    first: the named target; whoever is or was in the consultation bridge besides the
    transferer; whoever the transferee now talks to; whoever the transferer's consultation
    channel reached (dials too).
    """
    skip = {first.uniqueid, second.uniqueid}
    starts: list[str] = []
    named = t.channel(event, "TransferTarget", create=False)
    if named is not None:
        starts.append(named.uniqueid)
    second_bridge = val(event, "SecondBridgeUniqueid")
    starts.extend(sorted(t.bridges.get(second_bridge, set()) - skip))
    starts.extend(uid for uid in t.bridge_history.get(second_bridge, ()) if uid not in skip)
    for start in starts:
        found = legs.employee_behind(start, t.channels, t.bridges, source)
        if found:
            return found
    found = _talking_to(t, t.channel(event, "Transferee", create=False), skip, source)
    if found:
        return found
    return legs.employee_behind(second.uniqueid, t.channels, t.bridges, source)


def _talking_to(t: Tracking, transferee: Channel | None, skip: set[str], source: str | None) -> str | None:
    """The employee the transferee is connected to now (bridges and Local pairs), not `source`."""
    if transferee is None:
        return None
    for channel in legs.reachable(transferee.uniqueid, t.channels, t.bridges, skip=skip):
        if channel.kind is Kind.EMPLOYEE and channel.ext and channel.ext != source:
            return channel.ext
    return None


def on_pickup(t: Tracking, event: AmiEvent) -> None:
    """Pickup: another employee answered a ringing phone; the picker joins the call."""
    picker = t.channel(event)
    target = t.channel(event, "Target")
    conv = _joined(t, picker, target)
    if conv is not None:
        conv.pickup = True


def _joined(t: Tracking, a: Channel | None, b: Channel | None) -> Conversation | None:
    if a is not None and b is not None:
        return t.merge(t.conv_of(a), t.conv_of(b))
    one = a or b
    return t.conv_of(one) if one is not None else None


def _employee(t: Tracking, channel: Channel, exclude: str | None) -> str | None:
    if channel.ext:
        return channel.ext
    return legs.employee_behind(channel.uniqueid, t.channels, t.bridges, exclude)


def _note(t: Tracking, conv: Conversation, kind: TransferKind, source: str, target: str) -> None:
    note = TransferNote(kind, source, target, t.now)
    if any(n.kind is kind and n.from_ext == source and n.to_ext == target for n in conv.transfers[-1:]):
        return  # a duplicated event
    conv.transfers.append(note)
    t.emit_live(conv, LiveKind.TRANSFERRED, exten=target, from_exten=source)

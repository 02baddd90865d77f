"""Transfers and pickups: blind and attended transfers become transfer notes (and, through the
bridges that follow, new legs); a pickup joins the picker's call to the ringing one."""

from __future__ import annotations

from connector.calls import legs
from connector.calls.core import AmiEvent, Tracking, val
from connector.calls.model import LiveKind, TransferKind
from connector.calls.state import Channel, Conversation, TransferNote


def on_blind_transfer(t: Tracking, event: AmiEvent) -> None:
    """BlindTransfer: the client was sent to another extension through the dialplan."""
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
    target = _target(t, event, second, source)
    if source and target and target != source:
        _note(t, conv, TransferKind.ATTENDED, source, target)


def _target(t: Tracking, event: AmiEvent, second: Channel | None, source: str | None) -> str | None:
    """The employee the client was transferred to: the named target (through its Local pair),
    else whoever else is in the consultation bridge, else whoever the transferer reached."""
    starts: list[str] = []
    named = t.channel(event, "TransferTarget", create=False)
    if named is not None:
        starts.append(named.uniqueid)
    bridge = t.bridges.get(val(event, "SecondBridgeUniqueid"), set())
    starts.extend(sorted(uid for uid in bridge if second is None or uid != second.uniqueid))
    if second is not None:
        starts.append(second.uniqueid)
    for start in starts:
        found = legs.employee_behind(start, t.channels, t.bridges, source)
        if found:
            return found
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

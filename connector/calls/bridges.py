"""Bridge events: channels entering and leaving bridges decide who talks to the client (in a
conference room, to every client in the room)."""

from __future__ import annotations

from connector.calls.core import AmiEvent, Tracking, val

# Bridges whose members are one conversation; a conference bridge ("confbridge") joins
# independent calls and must not merge them.
_JOINING_TYPES = frozenset({"basic", ""})


def on_bridge_enter(t: Tracking, event: AmiEvent) -> None:
    """BridgeEnter: the channel joined a bridge."""
    channel = t.channel(event)
    bridge = val(event, "BridgeUniqueid")
    if channel is None or not bridge:
        return
    if channel.bridge is not None and channel.bridge != bridge:
        _leave(t, channel.uniqueid, channel.bridge)
    channel.bridge = bridge
    members = t.bridges.setdefault(bridge, set())
    conv = t.conv_of(channel)
    if val(event, "BridgeType") in _JOINING_TYPES:
        for uid in members:
            other = t.channels.get(uid)
            if other is not None:
                conv = t.merge(conv, t.conv_of(other))
    members.add(channel.uniqueid)
    t.remember_member(bridge, channel.uniqueid)
    t.refresh(conv)
    _refresh_others(t, bridge, conv)


def on_bridge_leave(t: Tracking, event: AmiEvent) -> None:
    """BridgeLeave: the channel left its bridge."""
    channel = t.channel(event, create=False)
    if channel is None or channel.bridge is None:
        return
    bridge = channel.bridge
    _leave(t, channel.uniqueid, bridge)
    channel.bridge = None
    conv = t.conv_of(channel)
    t.refresh(conv)
    _refresh_others(t, bridge, conv)


def on_bridge_destroy(t: Tracking, event: AmiEvent) -> None:
    """BridgeDestroy: whoever was still in the bridge is out of it."""
    members = t.bridges.pop(val(event, "BridgeUniqueid"), set())
    for uid in members:
        channel = t.channels.get(uid)
        if channel is not None:
            channel.bridge = None
            t.refresh(t.conv_of(channel))


def on_bridge_merge(t: Tracking, event: AmiEvent) -> None:
    """BridgeMerge: every channel of one bridge moved into another, without Enter/Leave events."""
    source, target = val(event, "FromBridgeUniqueid"), val(event, "ToBridgeUniqueid")
    moved = t.bridges.pop(source, set())
    if not target or not moved:
        return
    members = t.bridges.setdefault(target, set())
    convs = [t.conv_of(t.channels[uid]) for uid in members | moved if uid in t.channels]
    for uid in moved:
        t.remember_member(target, uid)
        if uid in t.channels:
            t.channels[uid].bridge = target
    members |= moved
    if convs:
        conv = convs[0]
        for other in convs[1:]:
            conv = t.merge(conv, other)
        t.refresh(conv)


def _refresh_others(t: Tracking, bridge: str, conv: object) -> None:
    """A conference room keeps its calls apart, yet whoever is in it talks to everyone there:
    the other calls in the bridge gain (or lose) the channel as a leg too."""
    for uid in list(t.bridges.get(bridge, ())):
        other = t.channels.get(uid)
        if other is not None and t.conv_of(other) is not conv:
            t.refresh(t.conv_of(other))


def _leave(t: Tracking, uid: str, bridge: str) -> None:
    members = t.bridges.get(bridge)
    if members is not None:
        members.discard(uid)
        if not members:
            del t.bridges[bridge]

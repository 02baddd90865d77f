"""Channels adopted from a `CoreShowChannel` snapshot (after a daemon restart or AMI reconnect).

The snapshot carries what the tracker missed: how long the channel has existed (`Duration`,
H:MM:SS) and the bridge it is in (`BridgeId`). The channel's conversation starts when its oldest
channel was created, and channels sharing a bridge are talking, so an answered call that was in
progress while the daemon was away is still reported as answered, by the right employee.
"""

from __future__ import annotations

from connector.calls import bridges
from connector.calls.core import AmiEvent, Tracking, val


def on_core_show_channel(t: Tracking, event: AmiEvent) -> None:
    """CoreShowChannel: adopt a channel Asterisk says is alive, or correct its bridge."""
    channel = t.channel(event)
    if channel is None:
        return
    age = duration_seconds(val(event, "Duration"))
    conv = t.conv_of(channel)
    if age is not None and conv.partial:
        channel.created = min(channel.created, t.now - age)
        conv.started = min(conv.started, channel.created)
    bridge = val(event, "BridgeId")
    if bridge == (channel.bridge or ""):
        return
    if bridge:
        bridges.on_bridge_enter(t, {**event, "BridgeUniqueid": bridge, "BridgeType": "basic"})
    else:
        bridges.on_bridge_leave(t, event)


def duration_seconds(text: str) -> int | None:
    """`H:MM:SS` (hours may exceed 24) as seconds, or None."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    hours, minutes, seconds = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + seconds

"""Channel events: creation, state, caller id, Local pairs, renames and hangups."""

from __future__ import annotations

from connector.calls.core import AmiEvent, Tracking, as_int, val
from connector.calls.state import Kind, classify


def on_channel(t: Tracking, event: AmiEvent) -> None:
    """Newchannel, Newstate and any snapshot event: make sure the channel is followed."""
    t.channel(event)


def on_caller_id(t: Tracking, event: AmiEvent) -> None:
    """NewCallerid: the channel's caller id changed (e.g. set by the dialplan)."""
    channel = t.channel(event)
    if channel is None:
        return
    channel.caller_num = val(event, "CallerIDNum")
    channel.caller_name = val(event, "CallerIDName")
    conv = t.conv_of(channel)
    if conv.origin is channel and channel.caller_name not in ("", "<unknown>"):
        conv.client_name = channel.caller_name


def on_rename(t: Tracking, event: AmiEvent) -> None:
    """Rename: the channel got a new name (masquerades). A ringing phone's channel renamed to
    another employee's phone is a pickup (a BLF pickup by INVITE with Replaces moves the picker's
    channel into the ringing one): the channel is that employee's from now on."""
    channel = t.channel(event, create=False)
    if channel is None:
        return
    channel.name = val(event, "Newname") or channel.name
    kind, ext = classify(channel.name.partition("<")[0], t.rules)
    if kind is not Kind.EMPLOYEE or ext == channel.ext:
        return
    conv = t.conv_of(channel)
    if channel.kind is Kind.EMPLOYEE and channel.dialled_at is not None and not conv.legs:
        conv.pickup = True
    channel.kind, channel.ext = kind, ext


def on_local_bridge(t: Tracking, event: AmiEvent) -> None:
    """LocalBridge: the two halves of a Local channel, announced together."""
    one = t.channel(event, "LocalOne")
    two = t.channel(event, "LocalTwo")
    if one is not None and two is not None:
        t.link_local(one.uniqueid, two.uniqueid)


def on_hangup_request(t: Tracking, event: AmiEvent) -> None:
    """HangupRequest: someone asked this channel to hang up (who hung up first)."""
    channel = t.channel(event, create=False)
    if channel is not None:
        t.note_hangup_side(channel, requested=True)


def on_hangup(t: Tracking, event: AmiEvent) -> None:
    """Hangup: the channel is gone."""
    channel = t.channel(event, create=False)
    if channel is None:
        return
    t.note_hangup_side(channel, requested=False)
    t.remove_channel(channel, as_int(val(event, "Cause")))

"""The AMI event filter: only the events the call tracker reads are sent by Asterisk.

Dialplan events (Newexten, VarSet) are most of an AMI stream's volume; the tracker needs only
the recording file name from them (measured on the harness's Asterisk 22: one answered inbound
call is 99 events unfiltered, 22 with these filters). The filters are legacy regular expressions
(matched against the whole event text), which every Asterisk since 10 understands, MikoPBX's
older releases included. With at least one include filter, Asterisk drops every event that matches none.
"""

from __future__ import annotations

from collections.abc import Iterable

TRACKER_EVENTS: tuple[str, ...] = (
    # channels
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "NewConnectedLine",
    "Rename",
    "HangupRequest",
    "SoftHangupRequest",
    "Hangup",
    # dials
    "DialBegin",
    "DialState",
    "DialEnd",
    "OriginateResponse",
    # bridges and Local pairs
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "BridgeMerge",
    "LocalBridge",
    "LocalOptimizationBegin",
    "LocalOptimizationEnd",
    # transfers and pickup
    "BlindTransfer",
    "AttendedTransfer",
    "Pickup",
    # queues
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentRingNoAnswer",
    "AgentConnect",
    "AgentComplete",
    # recording
    "MixMonitorStart",
    "MixMonitorStop",
    "UserEvent",
    # Asterisk itself
    "FullyBooted",
    "Shutdown",
    "Reload",
)
"""Events the tracker and the connector read; anything else is dropped by Asterisk."""

RECORDING_VARIABLES: tuple[str, ...] = ("MIXMONITOR_FILENAME", "FROM_DID", "__FROM_DID")
"""VarSet events let through only for these: the recording's file name, and MikoPBX's line (DID)
for trunks that deliver `s` instead of the dialled number."""

RECORDING_APPLICATIONS: tuple[str, ...] = ("MixMonitor",)
"""Newexten events let through only for these applications (their AppData names the file)."""


def default_filters(
    events: Iterable[str] = TRACKER_EVENTS, variables: Iterable[str] = RECORDING_VARIABLES
) -> tuple[str, ...]:
    """The include filters for `events`, VarSet of `variables` and Newexten of MixMonitor.

    `[[:space:]]` after the name stops `Hangup` from also letting `HangupRequest` through
    (POSIX extended regular expressions: no `\\b`).
    """
    names = "|".join(sorted(set(events)))
    filters = [f"Event: ({names})[[:space:]]"]
    wanted = "|".join(sorted(set(variables)))
    if wanted:
        filters.append(f"Variable: ({wanted})[[:space:]]")
    filters.append(f"Application: ({'|'.join(RECORDING_APPLICATIONS)})[[:space:]]")
    return tuple(filters)

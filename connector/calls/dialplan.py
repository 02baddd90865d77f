"""Dialplan events (VarSet, Newexten): the file name of a conversation's recording, and the line.

MixMonitorStart carries no file name, so the name is read from `VarSet MIXMONITOR_FILENAME`
(set by MixMonitor itself) or from the `MixMonitor` application's data in `Newexten`.
"""

from __future__ import annotations

from connector.calls.core import AmiEvent, Tracking, val

_DID_VARIABLES = frozenset({"FROM_DID", "__FROM_DID"})


def on_var_set(t: Tracking, event: AmiEvent) -> None:
    """VarSet: MIXMONITOR_FILENAME names a recording; MikoPBX's FROM_DID names the line."""
    variable = val(event, "Variable")
    if variable == "MIXMONITOR_FILENAME":
        _add(t, event, val(event, "Value"))
    elif variable in _DID_VARIABLES:
        _line(t, event, val(event, "Value"))


def _line(t: Tracking, event: AmiEvent, did: str) -> None:
    """The line of an inbound call whose trunk channel did not carry it as its extension."""
    channel = t.channel(event, create=False)
    if channel is None or not did.lstrip("+").isdigit():
        return
    if t.conv_of(channel).origin is channel and not channel.exten.lstrip("+").isdigit():
        channel.exten = did


def on_new_exten(t: Tracking, event: AmiEvent) -> None:
    """Newexten: a MixMonitor application step names the file in its data."""
    if val(event, "Application") == "MixMonitor":
        _add(t, event, val(event, "AppData").partition(",")[0])


def _add(t: Tracking, event: AmiEvent, path: str) -> None:
    path = path.strip()
    if not path or "${" in path:
        return
    channel = t.channel(event, create=False)
    if channel is None:
        return
    conv = t.conv_of(channel)
    if path not in conv.recordings:
        conv.recordings.append(path)

"""Dialplan events (VarSet, Newexten, MikoPBX's CdrConnector user events): the file name of a
conversation's recording, the line of an inbound call, and the evidence of why a call nobody
answered ended as it did (`records.reason`).

MixMonitorStart carries no file name, so the name is read from `VarSet MIXMONITOR_FILENAME`
(set by MixMonitor itself) or from the `MixMonitor` application's data in `Newexten`.

Evidence for the reason, from any channel of the conversation (the caller's, or the Local half
that runs the route for it), generic first (a step wrapped in `ExecIf` counts as the branch
its condition took, see `executed`):
- `VoiceMail(box@context,...)`: the call reached a mailbox; `VarSet VM_MESSAGEFILE` (app_voicemail
  sets it when the recording starts, after the beep): the caller left a message;
- `Background`, `Read`, `WaitExten`: a voice menu; `Playback`: an announcement;
- `Busy()` / `Hangup(17)`: the dialplan refused the call as busy; `Congestion()`: as unroutable;
- a dialplan step in a context named for closed hours (MikoPBX's `work-time-set-var-<id>` and
  `playback-exit`, `dial_outworktimes`, and names such as `out-of-hours`, `after-hours`,
  `closed`, `non-working`, `holiday`). MikoPBX checks every call in `check-out-work-time`, which
  says nothing by itself: only the branch taken to a closed-hours context counts;
- MikoPBX's `UserEvent(CdrConnector, AgiData: <base64 JSON>)` whose `action` is
  `dial_outworktimes` (closed hours) or `voicemail_start` (voicemail), when present. Never needed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from typing import Any

from connector.calls.core import AmiEvent, Tracking, val
from connector.calls.state import Conversation

_DID_VARIABLES = frozenset({"FROM_DID", "__FROM_DID"})
CLOSED_HOURS_CONTEXT = re.compile(
    r"work-time-set-var|playback-exit|outworktime|out[-_]?of[-_]?(?:work|hours|office)|after[-_]?hours"
    r"|off[-_]?hours|non[-_]?work|closed|holiday",
    re.IGNORECASE,
)
_IVR_APPS = frozenset({"background", "read", "waitexten"})
_EVIDENCE_APPS = _IVR_APPS | {"voicemail", "playback", "busy", "hangup", "congestion"}
_BUSY_CAUSES = frozenset({"17", "21"})
CDR_CONNECTOR = "CdrConnector"
UNKNOWN_MAILBOX = "?"  # the call reached voicemail, the evidence did not say which box
_CDR_ACTIONS = {"dial_outworktimes": "closed_hours", "voicemail_start": "voicemail"}


def on_var_set(t: Tracking, event: AmiEvent) -> None:
    """VarSet: MIXMONITOR_FILENAME names a recording; MikoPBX's FROM_DID names the line;
    VM_MESSAGEFILE says a voicemail message is being left."""
    variable = val(event, "Variable")
    if variable == "MIXMONITOR_FILENAME":
        _add(t, event, val(event, "Value"))
    elif variable in _DID_VARIABLES:
        _line(t, event, val(event, "Value"))
    elif variable == "VM_MESSAGEFILE" and val(event, "Value"):
        conv = _conv(t, event)
        if conv is not None and conv.voicemail_box is not None:
            conv.voicemail_left = True


def _line(t: Tracking, event: AmiEvent, did: str) -> None:
    """The line of an inbound call whose trunk channel did not carry it as its extension."""
    channel = t.channel(event, create=False)
    if channel is None or not did.lstrip("+").isdigit():
        return
    if t.conv_of(channel).origin is channel and not channel.exten.lstrip("+").isdigit():
        channel.exten = did


def executed(application: str, data: str) -> tuple[str, str]:
    """The application a step really ran, with its data: `ExecIf(cond?App(args)[:Other(args)])`
    runs the branch its condition picked (Newexten shows the condition already evaluated, "1"
    or "0"); MikoPBX writes most of its steps so (`ExecIf($[...]?Busy(2):Hangup())`). An ExecIf
    whose chosen branch is empty ran nothing."""
    if application.lower() != "execif":
        return application, data
    condition, _, branches = data.partition("?")
    depth, cut = 0, len(branches)
    for index, char in enumerate(branches):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ":" and depth == 0:
            cut = index
            break
    chosen = branches[:cut] if condition.strip() not in ("", "0") else branches[cut + 1 :]
    name, _, rest = chosen.strip().partition("(")
    return name.strip(), rest[:-1] if rest.endswith(")") else rest


def on_new_exten(t: Tracking, event: AmiEvent) -> None:
    """Newexten: a dialplan step; its application and context are evidence (module docstring)."""
    application, data = executed(val(event, "Application"), val(event, "AppData"))
    if application == "MixMonitor":
        _add(t, event, data.partition(",")[0])
        return
    app = application.lower()
    context = event.get("Context")
    closed = isinstance(context, str) and closed_hours_context(context)
    if not closed and app not in _EVIDENCE_APPS:
        return  # most steps (Set, NoOp, Gosub, Dial...) say nothing of why a call ended
    conv = _conv(t, event)
    if conv is None or conv.legs:
        return  # once someone talked to the client, the dialplan's steps say nothing of why not
    conv.closed_hours = conv.closed_hours or closed
    _application(t, conv, app, data, event)


@functools.lru_cache(maxsize=1024)
def closed_hours_context(context: str) -> bool:
    """Whether a dialplan context's name says it is the closed-hours branch (cached: a PBX has
    few contexts and every dialplan step names one)."""
    return CLOSED_HOURS_CONTEXT.search(context) is not None


def _application(t: Tracking, conv: Conversation, app: str, data: str, event: AmiEvent) -> None:
    if app == "voicemail":
        box = data.partition(",")[0].partition("&")[0].strip()
        # The application's own data names the mailbox; a CdrConnector event may have come first.
        conv.voicemail_box = box or conv.voicemail_box or UNKNOWN_MAILBOX
    elif app in _IVR_APPS:
        conv.ivr = True
    elif app == "playback":
        conv.announced = True
    elif app == "busy" or (app == "hangup" and data.strip() in _BUSY_CAUSES):
        _refuse(t, conv, "busy", event)
    elif app == "congestion":
        _refuse(t, conv, "congestion", event)


def _refuse(t: Tracking, conv: Conversation, how: str, event: AmiEvent) -> None:
    """The dialplan refused the call itself; before any dial the refused number is what the
    caller dialled (the channel's extension), so the attempt still becomes a record."""
    conv.refused = conv.refused or how
    channel = t.channel(event, create=False)
    if conv.dial_count == 0 and not conv.dialled and channel is not None and channel is conv.origin:
        number = channel.exten.lstrip("+")
        if number.isdigit():
            conv.dialled = number


def on_cdr_connector(t: Tracking, event: AmiEvent) -> None:
    """MikoPBX's CdrConnector user event: its `action` is evidence when it names a reason."""
    data = _agi_data(val(event, "AgiData"))
    action = str(data.get("action") or val(event, "action"))
    kind = _CDR_ACTIONS.get(action)
    if kind is None:
        t.channel(event, create=False)
        return
    conv = _conv(t, event)
    linkedid = str(data.get("linkedid") or "")
    if conv is None and linkedid in t.by_linkedid:
        conv = t.by_linkedid[linkedid]
    if conv is None or conv.legs:
        return
    if kind == "closed_hours":
        conv.closed_hours = True
    else:
        conv.voicemail_box = conv.voicemail_box or str(data.get("mailbox") or UNKNOWN_MAILBOX)


def _agi_data(text: str) -> dict[str, Any]:
    """The base64 JSON object of a CdrConnector event ({} when it is not one)."""
    if not text:
        return {}
    try:
        decoded = json.loads(base64.b64decode(text, validate=False))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _conv(t: Tracking, event: AmiEvent) -> Conversation | None:
    channel = t.channel(event, create=False)
    return t.conv_of(channel) if channel is not None else None


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

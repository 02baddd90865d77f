"""Interception to the client's responsible manager (connector/routing.py), as the tracker sees it.

Both interception modes announce themselves with `UserEvent: CrmInterception` before the
responsible's phone rings:

- pre-dial: the dialplan sends it on the caller's channel (its snapshot names the caller),
  with `Responsible`, then dials the responsible from the caller's channel, an ordinary dial;
- parallel: the daemon sends it through AMI with the caller's `CallerUniqueid`/`CallerLinkedid`
  (older senders: bare `Uniqueid`/`Linkedid`), `Responsible` and `AttemptUniqueid`, the
  ChannelId its Originate then gives the responsible's phone.

The call gets `intercepted_by` and the responsible counts as rung. A parallel attempt's channel
starts a conversation of its own (its linkedid is its uniqueid) that would become a separate
"outbound" record; so its uniqueid is registered as an alias linkedid of the caller's
conversation, which files the attempt and every channel it makes (a Local pair's other half,
its dial) under the caller's call. An alias is never the conversation's id and dies with the
conversation, so a marker whose Originate never came costs nothing once the call ends. If the
responsible answers in time the dialplan bridges them to the caller and they are an ordinary leg;
otherwise their channel is only noise for the call: it does not make the call "originated", its
dial decides nothing, and it does not keep the call open after everyone else has hung up.
"""

from __future__ import annotations

from connector.calls import dialplan, transfers
from connector.calls.core import AmiEvent, Tracking, val
from connector.calls.state import Conversation

MARKER = "CrmInterception"
MAX_ATTEMPTS = 8  # attempt aliases one conversation accepts (a repeated marker is not a leak)


def on_user_event(t: Tracking, event: AmiEvent) -> None:
    """UserEvent: a CrmInterception marker, MikoPBX's CdrConnector, or the blind transfer marker
    of config/asterisk/crm-ari.conf; any other user event only refreshes its channel."""
    name = val(event, "UserEvent")
    if name == dialplan.CDR_CONNECTOR:
        dialplan.on_cdr_connector(t, event)
        return
    if name == transfers.BLIND_MARKER:
        transfers.on_blind_transfer(t, event)
        return
    if name != MARKER:
        t.channel(event, create=False)
        return
    extension = val(event, "Responsible")
    conv = _callers_conversation(t, event)
    if conv is None or not t.rules.is_extension(extension):
        return
    conv.intercepted_by = extension
    t.ring(conv, extension)
    attempt = val(event, "AttemptUniqueid")
    if attempt:
        _file_attempt(t, conv, attempt)


def _callers_conversation(t: Tracking, event: AmiEvent) -> Conversation | None:
    """The caller's conversation: from the Caller* headers, else the event's own snapshot."""
    for prefix in ("Caller", ""):
        channel = t.channel(event, prefix, create=False)
        if channel is not None:
            return t.conv_of(channel)
        linkedid = val(event, prefix + "Linkedid")
        if linkedid in t.by_linkedid:
            return t.by_linkedid[linkedid]
    return None


def _file_attempt(t: Tracking, conv: Conversation, attempt: str) -> None:
    """File the attempt's channels (linkedid `attempt`) under `conv`."""
    existing = t.by_linkedid.get(attempt)
    if existing is not None:
        # The attempt's channel came first (markers and channels raced): join its conversation.
        conv = t.merge(conv, existing)
        if attempt in conv.linkedids and len(conv.linkedids) > 1:
            # An alias, not a linkedid: the daemon's ids may sort before the caller's uniqueid
            # and must never become the call's id.
            conv.linkedids.discard(attempt)
            conv.aliases.add(attempt)
        return
    if len(conv.aliases) >= MAX_ATTEMPTS:
        return
    conv.aliases.add(attempt)
    t.by_linkedid[attempt] = conv

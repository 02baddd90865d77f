"""Dial events: who rang whom (ring groups, queues, transfers, forwarding to a mobile), what the
dial ended with, and click-to-call originates (a dial with no source channel, or an
OriginateResponse)."""

from __future__ import annotations

from connector.calls.core import AmiEvent, Tracking, val
from connector.calls.phones import digits
from connector.calls.state import Channel, Conversation, Kind

_PHONES = (Kind.EMPLOYEE, Kind.EXTERNAL)


def on_dial_begin(t: Tracking, event: AmiEvent) -> None:
    """DialBegin: a channel (or an originate) starts ringing a destination."""
    dest = t.channel(event, "Dest")
    if dest is None:
        return
    source = t.channel(event)
    conv = t.conv_of(dest)
    if dest.dialled_at is None:
        dest.dialled_at = t.now
    if source is not None:
        conv = t.merge(t.conv_of(source), conv)
        dest.dialled_by = source.uniqueid
        if dest.uniqueid not in source.dials:
            source.dials.append(dest.uniqueid)
    elif not val(event, "Uniqueid") and not t.is_attempt(dest):
        # An Originate is click-to-call, unless it is an interception attempt's.
        _originated(t, conv, dest, event)
    conv.dial_count += 1
    if dest.kind is Kind.EMPLOYEE and dest.ext:
        t.ring(conv, dest.ext, _first_dialled(t, source))
    elif dest.kind is Kind.EXTERNAL:
        if source is not None and source.unanswered_ext:
            # Forwarding (MikoPBX's internal-fw, follow-me): the channel that rang an employee
            # in vain goes on to an outside number, the employee's mobile; whoever answers
            # there talks as that employee.
            dest.forward_of = source.unanswered_ext
            return
        _dialled_out(t, conv, dest, event)


def _originated(t: Tracking, conv: Conversation, dest: Channel, event: AmiEvent) -> None:
    """An Originate usually dials the employee first; its caller id is, by custom, the client's
    number (what the phone shows), which stands for the dialled number until the client is
    dialled. An Originate that dials the client first names the client in its dial string."""
    conv.originated = True
    if dest.kind is Kind.EXTERNAL and not conv.dialled:
        conv.dialled = dialled_number(t, event)
        return
    number = val(event, "DestCallerIDNum").lstrip("+")
    if not conv.dialled and number.isdigit() and not t.rules.is_extension(number):
        conv.dialled = number


def _first_dialled(t: Tracking, source: Channel | None) -> float:
    """When the PBX first dialled towards this ring, looking back through Local channels.

    Ring group members and queue agents are dialled together through Local pairs whose inner
    dials race; ranking by the outer dial keeps the order the PBX was asked to ring them in.
    """
    at = t.now
    hops = 0
    while source is not None and source.peer is not None and hops < 8:
        outer = t.channels.get(source.peer)
        if outer is None or outer.dialled_at is None:
            break
        at = outer.dialled_at
        source = t.channels.get(outer.dialled_by) if outer.dialled_by else None
        hops += 1
    return at


def _dialled_out(t: Tracking, conv: Conversation, dest: Channel, event: AmiEvent) -> None:
    origin = conv.origin
    if conv.external is not None or origin is None or origin.kind is not Kind.EMPLOYEE:
        return
    conv.external = dest
    conv.client_uid = dest.uniqueid
    conv.dialled = dialled_number(t, event)


def dialled_number(t: Tracking, event: AmiEvent) -> str:
    """The number an employee dialled: the dialplan extension, else the dial string's user part."""
    exten = val(event, "Exten").lstrip("+")
    if exten.isdigit() and not t.rules.is_extension(exten):
        return exten
    dial_string = val(event, "DialString").partition("/")[2] or val(event, "DialString")
    user = dial_string.partition("sip:")[2] or dial_string
    number = digits(user.partition("@")[0])
    return number or val(event, "DestCallerIDNum")


def on_dial_end(t: Tracking, event: AmiEvent) -> None:
    """DialEnd: how a dial ended; a phone's own dial decides an unanswered call's disposition."""
    dest = t.channel(event, "Dest", create=False)
    source = t.channel(event, create=False)
    anchor = dest or source
    if anchor is None:
        return
    conv = t.conv_of(anchor)
    if dest is not None and source is not None:
        # A dial links its two ends, also when the end is a channel the dial never began (a
        # picker's, moved into the ringing one).
        conv = t.merge(t.conv_of(source), conv)
    if dest is not None and source is None and t.is_attempt(dest):
        return  # an interception attempt's own dial says nothing about the caller's call
    status = val(event, "DialStatus")
    # A dial with no source channel is an originate's; one whose source is already gone (a late
    # or repeated DialEnd of a hung-up Local half) says nothing of the caller's own dial.
    originate = source is None and not val(event, "Uniqueid")
    if (
        originate
        or (source is not None and source.kind in _PHONES)
        or (dest is not None and dest.kind is Kind.EXTERNAL)
    ):
        conv.outer_status = status
    if status == "ANSWER" and dest is not None and dest.ext:
        conv.dial_answers.append((t.now, dest.ext))
        if dest.dialled_at is None and dest.kind is Kind.EMPLOYEE and conv.rang and not conv.legs:
            # The dial was answered by a phone it never rang: the ringing channel was replaced
            # by a picker's (Pickup(), PickupChan(), a BLF pickup).
            conv.pickup = True
    if source is not None and dest is not None and dest.kind is Kind.EMPLOYEE and dest.ext:
        source.unanswered_ext = None if status == "ANSWER" else dest.ext


def on_originate_response(t: Tracking, event: AmiEvent) -> None:
    """OriginateResponse: the channel was created by an Originate (click-to-call)."""
    channel = t.channel(event, create=False)
    if channel is not None and not t.is_attempt(channel):
        t.conv_of(channel).originated = True

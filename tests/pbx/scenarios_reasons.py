"""Calls that end before or without a person answering, each with the reason a sales team acts
on (issue 24), recorded on both profiles: closed hours by a time condition the test sets, a
caller who gives up in the voice menu, a menu choice answered, a message left on voicemail, a
route that only plays an announcement, a call refused because the phone is already on a call,
a queue whose timeout sends the caller to an extension.

Both dialplans offer the same numbers: IVR 2000 (1: queue 2200101, 2: phone 202), the mailbox
`admin@voicemailcontext` (route "voicemail"), the announcement route ("announcement"), queue
2200103 (linear 205+206, 2 s each, after 7 s to 207), working hours per line in astdb worktime/<did>.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from .harness import Harness
from .scenarios import LINE1, LINE2, answered, call, scenario

BOTH = ("asterisk", "mikopbx")
MAILBOX = "admin@voicemailcontext"
DELIVERY = "2200103"


def closed_window(now: dt.datetime | None = None) -> str:
    """Working hours "HH:MM-HH:MM" that exclude the present: one hour, twelve hours from now
    (whatever the PBX's time zone, within a few hours of UTC)."""
    start = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(hours=12)
    end = start + dt.timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


@scenario(
    "line 1 is closed now (its working hours, a time condition the test sets, are 12 h away); "
    "client 89161130001 calls, hears the closed-hours message and the PBX hangs up",
    [call("inbound", "+79161130001", "missed", did=LINE1, reason="closed_hours")],
    profiles=BOTH,
)
async def closed_hours(h: Harness) -> None:
    await h.db_put("worktime", LINE1, closed_window())
    await h.inbound(LINE1, "89161130001", "After Hours")


@scenario(
    "client calls line 1 routed to voice menu 2000 and hangs up after 2 s, before choosing",
    [call("inbound", "+79161130002", "missed", did=LINE1, reason="ivr_abandon")],
    routes={LINE1: "2000"},
    profiles=BOTH,
)
async def ivr_abandon(h: Harness) -> None:
    await h.inbound(LINE1, "+79161130002", "Menu Quitter", talk=2)


@scenario(
    "client calls line 1 routed to voice menu 2000, presses 2 after 1 s; phone 202 answers "
    "after 1 s and hangs up after 2 s",
    [
        call(
            "inbound",
            "+79161130003",
            "answered",
            did=LINE1,
            rang=("202",),
            answered_by="202",
            legs=("202",),
            talk=2,
        )
    ],
    routes={LINE1: "2000"},
    profiles=BOTH,
)
async def ivr_choice_answered(h: Harness) -> None:
    await h.phone("202", "answer:1:2")
    placed = await h.inbound(LINE1, "+79161130003", "Menu Chooser")
    await h.wait_pbx(Event="Newexten", Application="BackGround")
    await asyncio.sleep(1)
    await h.send_dtmf(placed.uniqueid, "2")


@scenario(
    "client calls line 1 routed straight to voicemail (mailbox admin) and leaves a 4 s message",
    [
        call(
            "inbound",
            "+79161130004",
            "missed",
            did=LINE1,
            reason="voicemail",
            voicemail=(MAILBOX, True),
        )
    ],
    routes={LINE1: "voicemail"},
    profiles=BOTH,
)
async def voicemail_direct_message(h: Harness) -> None:
    await h.inbound(LINE1, "+79161130004", "Message Leaver", talk=4)


@scenario(
    "client calls line 1 routed to an announcement (2 s), after which the PBX hangs up",
    [call("inbound", "+79161130005", "missed", did=LINE1, reason="announcement")],
    routes={LINE1: "announcement"},
    profiles=BOTH,
)
async def announcement_hangup(h: Harness) -> None:
    await h.inbound(LINE1, "+79161130005", "Listener")


@scenario(
    "201 calls 202, which answers after 1 s and talks 4 s; meanwhile 203 calls 202, which is on "
    "a call: the dialplan refuses it with Busy() before any Dial",
    [
        call("internal", "201", "answered", rang=("202",), answered_by="202", legs=("202",), talk=4),
        call("internal", "203", "busy", reason="busy_on_call"),
    ],
    profiles=BOTH,
)
async def busy_on_call(h: Harness) -> None:
    await h.phone("202", "answer:1:4")
    await h.dial_from_phone("201", "202")
    await answered(h, "202")
    await asyncio.sleep(1)
    await h.dial_from_phone("203", "202", give_up=5)


QUEUE_TIMEOUT_TRUTH = [
    call(
        "inbound",
        "+79161130006",
        "answered",
        did=LINE2,
        rang=("205", "206", "207"),
        answered_by="207",
        legs=("207",),
        queue=DELIVERY,
        talk=2,
    )
]


@scenario(
    "client calls line 2 routed to queue 2200103 (205, 206 in turn, 2 s each); nobody answers; "
    "after 7 s the queue sends the caller to 207, which answers after 1 s and talks 2 s",
    QUEUE_TIMEOUT_TRUTH,
    routes={LINE2: DELIVERY},
    profiles=BOTH,
    # The mikopbx profile lists its queues with names (numbering.queues): the record names it.
    profile_truth={"mikopbx": [dict(QUEUE_TIMEOUT_TRUTH[0], queue_name="Отдел доставки")]},
)
async def queue_timeout_to_extension(h: Harness) -> None:
    # MikoPBX's route dials the queue through a Local channel for the route's ring time: make it
    # longer than the queue's own timeout (the asterisk profile has no route time).
    await h.db_put("inroute_time", LINE2, "30")
    await h.phone("205", "noanswer")
    await h.phone("206", "noanswer")
    await h.phone("207", "answer:1:2")
    await h.inbound(LINE2, "+79161130006", "Waited Long")

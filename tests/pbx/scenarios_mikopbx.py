"""Scenarios of the mikopbx profile: MikoPBX's own dialplan (conf/mikopbx) under the same phones,
lines and provider as the asterisk profile.

What differs from the asterisk profile, as MikoPBX generates it: inbound routes reach their
destination through Local/<n>@internal-incoming; the "ring group" 2200100 is a ringall queue;
queues are named QUEUE-<uniqid> and reached by their own number (2200100..2200103); a phone
rings until the caller gives up unless forwarding is set (astdb FW*/<ext>), and then the same
channel goes on to the forwarding number after FW_TIME; an extension already on a call is
refused with Busy() before any Dial; click-to-call rings the employee through
Local/<ext>@internal-originate and moves the employee's channel to the client's number with
ChannelRedirect. Mobiles 89161230001 (201's) and 89161230002 (202's) are extensions of type
"external", reached through the provider.

Story scenarios that play the same on both profiles are registered for both here (`also_on`).
"""

from __future__ import annotations

import asyncio

from .harness import Harness
from .scenarios import (
    LINE1,
    LINE2,
    SCENARIOS,
    Truth,
    also_on,
    answered,
    call,
    ringing,
    scenario,
)

MIKOPBX = "mikopbx"
SALES, SUPPORT, ACCOUNTS, DELIVERY = "2200100", "2200101", "2200102", "2200103"
MOBILE_201, MOBILE_202 = "89161230001", "89161230002"
# The queues' names, as numbering.queues of the profile lists them (harness.PROFILES).
QUEUE_NAMES = {
    SALES: "Отдел продаж",
    SUPPORT: "Поддержка",
    ACCOUNTS: "Бухгалтерия",
    DELIVERY: "Отдел доставки",
}


def named(truth: list[Truth]) -> list[Truth]:
    """The truth with each queue's configured name (MikoPBX's queues are ids behind numbers)."""
    return [dict(c, queue_name=QUEUE_NAMES[c["queue"]]) if c.get("queue") else c for c in truth]


# ------------------------------------------------------------------ the same story on MikoPBX
for _name in (
    "internal_answered",
    "internal_busy",
    "internal_cancelled",
    "inbound_direct_answered",
    "inbound_caller_hangs_up_ringing",
    "inbound_line2_direct_answered",
    "inbound_cyrillic_name",
    "inbound_two_calls_same_client",
    "inbound_queue_answered",
    "inbound_queue_abandoned",
    "inbound_queue_next_agent_after_timeout",
    "pickup_group",
    "pickup_directed",
    "blind_transfer_ami_answered",
    "blind_transfer_feature_code",
    "attended_transfer_ami_completed",
    "attended_transfer_feature_code",
    "outbound_answered",
    "outbound_plus_format_answered",
    "outbound_busy",
    "outbound_cancelled",
    "click_to_call_answered",
    "click_to_call_client_busy",
):
    also_on(MIKOPBX, _name, named(SCENARIOS[_name].truth))

# MikoPBX's ring group is a ringall queue: the same story goes through queue 2200100.
also_on(
    MIKOPBX,
    "inbound_ringgroup_answered",
    named([dict(SCENARIOS["inbound_ringgroup_answered"].truth[0], queue=SALES)]),
)


# ------------------------------------------------------------------ forwarding (internal-fw)
@scenario(
    "client calls line 1 routed to 201, whose calls forward to its mobile 89161230001 after 3 s "
    "of ringing (astdb FW/201, FW_TIME/201); 201 does not answer; the same Local channel goes "
    "on to the mobile, which answers after 1 s and talks 2 s",
    [
        call(
            "inbound",
            "+79161120001",
            "answered",
            did=LINE1,
            rang=("201",),
            answered_by="201",
            legs=("201",),
            talk=2.5,
        )
    ],
    routes={LINE1: "201"},
    profiles=(MIKOPBX,),
)
async def forward_no_answer_to_mobile(h: Harness) -> None:
    await h.db_put("FW", "201", MOBILE_201)
    await h.db_put("FW_TIME", "201", "3")
    await h.phone("201", "noanswer")
    await h.client(MOBILE_201, "answer:1:2")
    await h.inbound(LINE1, "+79161120001", "Forwarded")


@scenario(
    "client calls line 1 routed to 202, which rejects at once with 486 Busy Here; 202's busy "
    "forwarding (astdb FW_BUSY/202) sends the same channel on to its mobile 89161230002, "
    "which answers after 1 s and talks 2 s",
    [
        call(
            "inbound",
            "+79161120002",
            "answered",
            did=LINE1,
            rang=("202",),
            answered_by="202",
            legs=("202",),
            talk=2.5,
        )
    ],
    routes={LINE1: "202"},
    profiles=(MIKOPBX,),
)
async def forward_busy_to_mobile(h: Harness) -> None:
    await h.db_put("FW_BUSY", "202", MOBILE_202)
    await h.db_put("FW_TIME", "202", "10")
    await h.phone("202", "busy")
    await h.client(MOBILE_202, "answer:1:2")
    await h.inbound(LINE1, "+79161120002", "Busy Forwarded")


# ------------------------------------------------------------------ voicemail
@scenario(
    "client calls line 1 routed to 203 with a 3 s route time and voicemail as the default "
    "action; 203 does not answer; the client leaves a 3 s message",
    [
        call(
            "inbound",
            "+79161120003",
            "missed",
            did=LINE1,
            rang=("203",),
            reason="voicemail",
            voicemail=("admin@voicemailcontext", True),
        )
    ],
    routes={LINE1: "203"},
    profiles=(MIKOPBX,),
)
async def voicemail_after_no_answer(h: Harness) -> None:
    await h.db_put("inroute_time", LINE1, "3")
    await h.db_put("inroute_default", LINE1, "voicemail")
    await h.phone("203", "noanswer")
    await h.inbound(LINE1, "+79161120003", "Message", talk=6)


# ------------------------------------------------------------------ transfer to a queue
@scenario(
    "client calls line 1 routed to 201; 201 answers and after 1.5 s presses **2200101 (blind "
    "transfer to queue 2200101: 203+204); 204 answers after 1 s and hangs up after 2 s",
    named(
        [
            call(
                "inbound",
                "+79161120004",
                "answered",
                did=LINE1,
                rang=("201", "203", "204"),
                answered_by="201",
                legs=("201", "204"),
                transfers=(("blind", "201", SUPPORT),),
                queue=SUPPORT,
                talk=9,
                together=True,
            )
        ]
    ),
    routes={LINE1: "201"},
    profiles=(MIKOPBX,),
)
async def transfer_to_queue(h: Harness) -> None:
    await h.phone("201", "answer:1:0")
    await h.phone("203", "noanswer")
    await h.phone("204", "answer:1:2")
    await h.inbound(LINE1, "+79161120004", "To Queue")
    await answered(h, "201")
    await asyncio.sleep(1.5)
    await h.send_dtmf(await h.world_leg_of("201"), "**2200101")


# ------------------------------------------------------------------ pickup of a queue call
@scenario(
    "client calls line 2 (queue 2200101: 203+204 through Local channels); while they ring, 205 "
    "dials *8203 (directed pickup of 203's ringing queue leg) and talks 2 s",
    named(
        [
            call(
                "inbound",
                "+79161120005",
                "answered",
                did=LINE2,
                rang=("203", "204"),
                answered_by="205",
                legs=("205",),
                queue=SUPPORT,
                pickup=True,
                talk=2,
                together=True,
            )
        ]
    ),
    profiles=(MIKOPBX,),
)
async def pickup_directed_queue_call(h: Harness) -> None:
    await h.phone("203", "noanswer")
    await h.phone("204", "noanswer")
    await h.inbound(LINE2, "+79161120005", "Queue Picked")
    await ringing(h, "203")
    await asyncio.sleep(0.5)
    await h.dial_from_phone("205", "*8203", talk=2)


# ------------------------------------------------------------------ parking
@scenario(
    "client calls line 1 routed to 201; 201 answers and after 1.5 s presses **800 (blind "
    "transfer to the parking lot 800, slot 801); 1 s later 203 dials 801, takes the call and talks 2 s",
    [
        call(
            "inbound",
            "+79161120006",
            "answered",
            did=LINE1,
            rang=("201",),
            answered_by="201",
            legs=("201", "203"),
            transfers=(("blind", "201", "800"),),
            talk=6,
        )
    ],
    routes={LINE1: "201"},
    profiles=(MIKOPBX,),
)
async def park_and_retrieve(h: Harness) -> None:
    await h.phone("201", "answer:1:0")
    await h.inbound(LINE1, "+79161120006", "Parked")
    await answered(h, "201")
    await asyncio.sleep(1.5)
    await h.send_dtmf(await h.world_leg_of("201"), "**800")
    await h.wait_pbx(Event="ParkedCall")
    await asyncio.sleep(1)
    await h.dial_from_phone("203", "801", talk=2)


# ------------------------------------------------------------------ conference
@scenario(
    "client calls line 1 routed to conference room 2300 and talks 4 s; 201 dials 2300 1 s after "
    "the client and stays until the client leaves, then hangs up",
    [
        call(
            "inbound",
            "+79161120007",
            "answered",
            did=LINE1,
            answered_by="201",
            legs=("201",),
            recording=False,
            talk=3,
        )
    ],
    routes={LINE1: "2300"},
    profiles=(MIKOPBX,),
)
async def conference_room(h: Harness) -> None:
    await h.inbound(LINE1, "+79161120007", "Conference", talk=4)
    await h.wait_pbx(Event="ConfbridgeJoin")
    await asyncio.sleep(1)
    phone = await h.dial_from_phone("201", "2300")
    await h.wait_pbx(Event="ConfbridgeLeave", CallerIDNum="+79161120007")
    await h.hangup_world(phone.uniqueid)

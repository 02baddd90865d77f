"""Transfers made by phones: SIP REFER (blind) and REFER with Replaces (attended), sent by the
world's phone as a desk phone's transfer key does, recorded on both profiles. The PBX, not the
connector, carries them out (res_pjsip_refer), into the transferer's TRANSFER_CONTEXT.

Also the path a call takes when the daemon connects it: parallel interception, where the
responsible manager's phone, originated by the daemon, answers and is bridged with the client
(config/asterisk/crm-interception.conf, [crm-interception-connect])."""

from __future__ import annotations

import asyncio

from .harness import Harness
from .scenarios import LINE1, answered, call, scenario

BOTH = ("asterisk", "mikopbx")


@scenario(
    "client calls line 1 routed to 201; 201 answers and after 1.5 s transfers the call by SIP "
    "REFER to 203 (blind, the phone's transfer key); 203 answers after 1 s, hangs up after 2 s",
    [
        call(
            "inbound",
            "+79161140001",
            "answered",
            did=LINE1,
            rang=("201", "203"),
            answered_by="201",
            legs=("201", "203"),
            transfers=(("blind", "201", "203"),),
            talk=4.5,
        )
    ],
    routes={LINE1: "201"},
    profiles=BOTH,
)
async def blind_transfer_refer(h: Harness) -> None:
    await h.phone("201", "answer:1:0")
    await h.phone("203", "answer:1:2")
    await h.inbound(LINE1, "+79161140001", "Refer Blind")
    await answered(h, "201")
    await asyncio.sleep(1.5)
    await h.refer(await h.world_leg_of("201"), "203")


@scenario(
    "client calls line 1 routed to 201; 201 answers, after 1.5 s its phone calls 203 (the "
    "consultation, a call of its own); 203 answers after 1 s; after 1 s of talk 201's phone "
    "sends REFER with Replaces (attended transfer) and leaves; client and 203 talk 2 s, 203 hangs up",
    [
        call(
            "inbound",
            "+79161140002",
            "answered",
            did=LINE1,
            rang=("201", "203"),
            answered_by="201",
            legs=("201", "203"),
            transfers=(("attended", "201", "203"),),
            talk=6.5,
        )
    ],
    routes={LINE1: "201"},
    profiles=BOTH,
)
async def attended_transfer_refer(h: Harness) -> None:
    await h.phone("201", "answer:1:0")
    await h.phone("203", "answer:1:0")
    await h.inbound(LINE1, "+79161140002", "Refer Attended")
    await answered(h, "201")
    client_leg = await h.world_leg_of("201")
    await asyncio.sleep(1.5)
    consultation = await h.dial_from_phone("201", "203")
    await answered(h, "203")
    await asyncio.sleep(1)
    await h.refer(client_leg, "203", replacing=consultation.uniqueid)
    await h.wait_pbx(Event="AttendedTransfer")
    await asyncio.sleep(2)
    await h.hangup_world(await h.world_leg_of("203"))


# ------------------------------------------------------------------ parallel interception
@scenario(
    "parallel interception: client +79161112233 (known to the CRM, responsible 203) calls line 1 "
    "(ring group 201+202, nobody answers); the daemon's ParallelInterceptor marks the call "
    "(UserEvent CrmInterception) and originates 203 into [crm-interception-connect]; 203 answers "
    "after 1 s and is bridged with the client, who hangs up after 3 s",
    [
        call(
            "inbound",
            "+79161112233",
            "answered",
            did=LINE1,
            rang=("201", "202", "203"),
            answered_by="203",
            legs=("203",),
            recording=False,
            talk=3,
            together=True,
        )
    ],
    routes={LINE1: "2200100"},
)
async def parallel_interception_connected(h: Harness) -> None:
    # The daemon's side, as tests/pbx/test_interception.py runs it: AMI -> tracker -> live
    # events -> ParallelInterceptor, whose Originate and marker the PBX's events then carry.
    from .test_interception import KNOWN, RESPONSIBLE, Daemon, install_dialplan

    await asyncio.to_thread(install_dialplan, h)
    daemon = Daemon(h)
    daemon.ami.start()
    try:
        await daemon.ami.wait_connected(10)
        await h.phone("201", "noanswer")
        await h.phone("202", "noanswer")
        await h.phone(RESPONSIBLE, "answer:1:0")
        placed = await h.inbound(LINE1, KNOWN, "Known Client")
        await h.wait_pbx(Event="BridgeEnter", Channel=f"PJSIP/{RESPONSIBLE}-*", wait_timeout=20)
        await asyncio.sleep(3)
        await h.hangup_world(placed.uniqueid)
        await h.wait_idle()
    finally:
        await daemon.interceptor.stop()
        await daemon.ami.stop()

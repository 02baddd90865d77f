"""The mikopbx profile live: MikoPBX's dialplan runs its Lua hooks, which announce each step as
MikoPBX does (UserEvent CdrConnector with base64 JSON), and calls of its own patterns
(forwarding on the same channel, a transfer to a queue by number, click-to-call by
ChannelRedirect, a conference room) track to their truth."""

from __future__ import annotations

import base64
import json

import pytest

from connector.calls.capture import as_event
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.calls.truth import compare

from .checks import problems
from .harness import Harness
from .scenarios import SCENARIOS, record

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

LIVE = ["forward_no_answer_to_mobile", "transfer_to_queue", "click_to_call_answered", "conference_room"]


@pytest.mark.parametrize("name", LIVE)
async def test_mikopbx_scenario_tracks_to_its_truth(mikopbx_harness: Harness, name: str) -> None:
    capture = await record(mikopbx_harness, SCENARIOS[name])
    tracker = CallTracker(rules_from_numbering(capture["numbering"]))
    calls: list[Call] = []
    for raw in capture["events"]:
        event = as_event(raw)
        assert event is not None
        calls.extend(item for item in tracker.feed(event) if isinstance(item, Call))

    assert problems(capture) == []
    assert (compare(calls, capture["truth"]["calls"]), tracker.in_progress) == ([], 0)


async def test_lua_hooks_announce_each_step_as_mikopbx_does(mikopbx_harness: Harness) -> None:
    capture = await record(mikopbx_harness, SCENARIOS["inbound_direct_answered"])
    steps = [
        json.loads(base64.b64decode(event["AgiData"]))
        for event in capture["events"]
        if event.get("Event") == "UserEvent" and event.get("UserEvent") == "CdrConnector"
    ]

    actions = [step["action"] for step in steps]
    assert actions[:3] == ["dial", "dial_create_chan", "dial_answer"]
    assert "hangup_chan" in actions
    dial = steps[0]
    assert (dial["dst_num"], dial["did"], dial["src_chan"].startswith("PJSIP/SIP-1611151795-")) == (
        "201",
        "74951110001",
        True,
    )
    answer = steps[2]
    # MikoPBX's file naming: <monitor>/YYYY/MM/DD/HH/<pt1c_UNIQUEID>, the id of the dial step.
    assert answer["recordingfile"].endswith(f"/{dial['UNIQUEID']}.wav")

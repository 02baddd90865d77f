"""The call tracker on real calls: scenarios played on the harness's Asterisk, their events fed
to `CallTracker` in the order received, the calls compared with the scenario's truth; a call in
progress adopted from Asterisk's own channel list, as the daemon does after a restart; and
parallel interception, whose attempt must stay inside the client's one call record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from connector.calls.capture import as_event
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.calls.truth import compare

from .harness import NUMBERING, Harness
from .scenarios import LINE1, SCENARIOS, answered, record
from .test_interception import KNOWN, RESPONSIBLE, Daemon, install_dialplan

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

# One of each family: Local channels, queue, pickup, both transfers, click-to-call, outbound.
LIVE = [
    "inbound_ringgroup_answered",
    "inbound_queue_answered",
    "pickup_group",
    "blind_transfer_ami_answered",
    "attended_transfer_ami_completed",
    "attended_transfer_ami_refused",
    "click_to_call_answered",
    "outbound_busy",
]


@pytest.mark.parametrize("name", [n for n in LIVE if n in SCENARIOS])
async def test_live_scenario_tracks_to_its_truth(pbx_harness: Harness, name: str) -> None:
    capture = await record(pbx_harness, SCENARIOS[name])
    tracker = CallTracker(rules_from_numbering(capture["numbering"]))
    calls: list[Call] = []
    for raw in capture["events"]:
        event = as_event(raw)
        assert event is not None
        calls.extend(item for item in tracker.feed(event) if isinstance(item, Call))
    assert (compare(calls, capture["truth"]["calls"]), tracker.in_progress) == ([], 0)


async def test_call_in_progress_is_adopted_from_core_show_channels(pbx_harness: Harness) -> None:
    h = pbx_harness
    await h.reset()
    await h.route(LINE1, "202")
    h.begin()
    await h.phone("202", "answer:1:3")
    await h.inbound(LINE1, "+79161110099", "Restarted")
    await answered(h, "202")
    mark = len(h.pbx.events)
    snapshot = await h.pbx_channels()
    at = datetime.now(UTC)
    await h.wait_idle()
    tracker = CallTracker(rules_from_numbering(NUMBERING))
    for item in snapshot:
        tracker.feed(as_event(item) or {}, at)
    events = [as_event(e) or {} for e in h.pbx.events[mark:]]
    calls = [x for e in events for x in tracker.feed(e) if isinstance(x, Call)]
    assert [(c.direction.value, c.client, c.answered_by, c.interrupted) for c in calls] == [
        ("inbound", "+79161110099", "202", False)
    ]


@pytest.mark.parametrize(
    ("behaviours", "answered_by"),
    [
        # Nobody on the route answers; the responsible does after 1 s and is joined to the client.
        ({RESPONSIBLE: "answer:1:0"}, RESPONSIBLE),
        # 201 answers after 2 s (the attempt has long been ringing), the responsible would after 4 s.
        ({"201": "answer:2:0", RESPONSIBLE: "answer:4:0"}, "201"),
    ],
    ids=["responsible_answers", "route_answers"],
)
async def test_parallel_interception_is_one_call_naming_the_responsible(
    pbx_harness: Harness, behaviours: dict[str, str], answered_by: str
) -> None:
    h = pbx_harness
    await asyncio.to_thread(install_dialplan, h)
    await h.reset()
    daemon = Daemon(h)  # the daemon's own tracker, fed live, drives the interceptor
    daemon.ami.start()
    try:
        await daemon.ami.wait_connected(10)
        await h.route(LINE1, "2200100")
        for ext, behaviour in behaviours.items():
            await h.phone(ext, behaviour)
        h.begin()
        await h.inbound(LINE1, KNOWN, talk=2)
        await h.wait_pbx(Event="Newchannel")
        await h.wait_idle()
    finally:
        await daemon.interceptor.stop()
        await daemon.ami.stop()
    marker = [e for e in h.pbx.events[h.pbx_mark :] if e.get("UserEvent") == "CrmInterception"]
    assert (
        len(marker),
        [(c.direction.value, c.client, set(c.rang), c.answered_by, c.intercepted_by) for c in daemon.calls],
        daemon.tracker.in_progress,
    ) == (1, [("inbound", KNOWN, {"201", "202", RESPONSIBLE}, answered_by, RESPONSIBLE)], 0)

"""The call tracker on real calls: scenarios played on the harness's Asterisk, their events fed
to `CallTracker` in the order received, the calls compared with the scenario's truth; and a
call in progress adopted from Asterisk's own channel list, as the daemon does after a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.calls.capture import as_event
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.calls.truth import compare

from .harness import NUMBERING, Harness
from .scenarios import LINE1, SCENARIOS, answered, record

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

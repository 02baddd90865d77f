"""ARI on the harness's Asterisk (conf/pbx/http.conf, ari.conf as MikoPBX writes it): the same
scenarios heard through AMI and through ARI give call records that agree field by field; a
call in progress is adopted from /ari/channels and /ari/bridges; a wrong password is reported."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from connector.ami.client import ChannelSnapshot
from connector.ari.client import AriClient
from connector.ari.settings import AriSettings
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker
from connector.settings_schema import Secret
from tests.unit.ari.agreement import ami_calls, ari_calls, differences

from .harness import AMI_USER, NUMBERING, Harness
from .scenarios import LINE1, SCENARIOS, answered, record

pytestmark = [pytest.mark.pbx, pytest.mark.asyncio(loop_scope="session")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ari"
# One of each family: ring group (Local pairs), queue, pickup, both transfers, click-to-call,
# outbound, a missed call.
AGREEING = [
    "inbound_direct_answered",
    "inbound_direct_missed",
    "inbound_ringgroup_answered",
    "inbound_queue_answered",
    "inbound_queue_abandoned",
    "inbound_queue_next_agent_after_timeout",
    "queue_timeout_to_extension",
    "pickup_group",
    "pickup_directed",
    "attended_transfer_refer",
    "blind_transfer_ami_answered",
    "attended_transfer_ami_completed",
    "attended_transfer_ami_refused",
    "click_to_call_answered",
    "outbound_busy",
]


def settings(h: Harness, password: str | None = None, **changes: Any) -> AriSettings:
    """ARI settings for the harness's PBX."""
    secret = Secret(h.ari_secret if password is None else password)
    options: dict[str, Any] = {"ping_interval": 1.0, "ping_timeout": 1.0, "reconnect_min": 0.1, **changes}
    return AriSettings(url=h.ari_url, username=AMI_USER, password=secret, events="ari", **options)


@pytest_asyncio.fixture(loop_scope="session")
async def ari_events(pbx_harness: Harness) -> AsyncIterator[list[dict[str, Any]]]:
    """Every ARI event of the PBX while the test runs."""
    events: list[dict[str, Any]] = []
    client = AriClient(settings(pbx_harness), lambda e: events.append(dict(e)))
    client.start()
    try:
        await client.wait_connected(10)
        yield events
    finally:
        await client.stop()


@pytest.mark.parametrize("name", AGREEING)
async def test_ami_and_ari_records_agree(
    pbx_harness: Harness, ari_events: list[dict[str, Any]], name: str
) -> None:
    mark = len(ari_events)
    capture = await record(pbx_harness, SCENARIOS[name])
    await asyncio.sleep(0.3)  # the WebSocket trails the AMI socket by a few milliseconds
    ari = ari_events[mark:]
    if os.environ.get("ARI_RECORD"):  # refresh tests/fixtures/ari (read by the unit tests)
        FIXTURES.mkdir(parents=True, exist_ok=True)
        both = {"scenario": name, "numbering": capture["numbering"], "ami": capture["events"], "ari": ari}
        (FIXTURES / f"{name}.json").write_text(json.dumps(both, ensure_ascii=False) + "\n", encoding="utf-8")
    from_ami = ami_calls(capture["events"], capture["numbering"])
    from_ari = ari_calls(ari, capture["numbering"])
    assert from_ami, "the scenario made no call"
    assert differences(from_ami, from_ari) == []


async def test_call_in_progress_adopted_from_ari_lists(pbx_harness: Harness) -> None:
    h = pbx_harness
    await h.reset()
    await h.route(LINE1, "202")
    h.begin()
    await h.phone("202", "answer:1:3")
    await h.inbound(LINE1, "+79161110099", "Restarted")
    await answered(h, "202")
    tracker = CallTracker(rules_from_numbering(NUMBERING))
    calls: list[Call] = []
    adopted = asyncio.Event()

    async def on_session(snapshot: ChannelSnapshot) -> None:
        at = datetime.fromtimestamp(snapshot.at, UTC)
        for item in snapshot.channels:
            tracker.feed(dict(item), at)
        adopted.set()

    from connector.ari.source import AriSource

    def on_event(event: Any) -> None:
        calls.extend(c for c in tracker.feed(event) if isinstance(c, Call))

    source = AriSource(settings(h), on_event, on_session)
    source.client.start()
    try:
        await asyncio.wait_for(adopted.wait(), 10)
        await h.wait_idle()
        await asyncio.sleep(0.5)
    finally:
        await source.client.stop()
    assert [(c.direction.value, c.client, c.answered_by, c.interrupted) for c in calls] == [
        ("inbound", "+79161110099", "202", False)
    ]


async def test_wrong_password_is_reported_and_retried_slowly(pbx_harness: Harness) -> None:
    client = AriClient(settings(pbx_harness, "not-the-password", auth_retry=30.0), lambda e: None)
    client.start()
    try:
        for _ in range(100):
            if client.status.auth_failed:
                break
            await asyncio.sleep(0.05)
    finally:
        await client.stop()
    assert (client.status.auth_failed, client.connected) == (True, False)
    assert "ari.password" in client.status.last_error


async def test_mikopbx_profile_records_agree_through_its_prefixed_ari(mikopbx_harness: Harness) -> None:
    """MikoPBX's http.conf (prefix=asterisk) and ari.conf ([pbxcore] beside the admin's users):
    ARI answers at /asterisk/ari, and MikoPBX's dialplan with its Lua hooks gives the same
    record through ARI as through AMI."""
    h = mikopbx_harness
    events: list[dict[str, Any]] = []
    client = AriClient(settings(h), lambda e: events.append(dict(e)))
    client.start()
    try:
        await client.wait_connected(10)
        capture = await record(h, SCENARIOS["inbound_direct_answered"])
        await asyncio.sleep(0.3)
    finally:
        await client.stop()
    if os.environ.get("ARI_RECORD"):  # MikoPBX's pre-dial handlers: a replay case for the unit tests
        both = {"scenario": "mikopbx_inbound_direct_answered", "numbering": capture["numbering"]}
        both |= {"ami": capture["events"], "ari": events}
        text = json.dumps(both, ensure_ascii=False) + "\n"
        (FIXTURES / "mikopbx_inbound_direct_answered.json").write_text(text, encoding="utf-8")
    from_ami = ami_calls(capture["events"], capture["numbering"])
    assert "/asterisk/ari" in h.ari_url and from_ami, "the scenario made no call"
    assert differences(from_ami, ari_calls(events, capture["numbering"])) == []

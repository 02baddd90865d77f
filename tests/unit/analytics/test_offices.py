"""Many PBXs, one CRM: two offices' connectors deliver to one built-in CRM over HTTP.

Each office's sender is the real `webhook` adapter (what a remote connector runs) with the token
this CRM issued for that office; the CRM files each call under its office, a redelivery changes
nothing, and the calls list and the reports narrow to one office with `?pbx=`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import pytest

from adapters.webhook import Settings as WebhookSettings
from adapters.webhook import create
from connector.calls.model import Direction, LiveEvent, LiveKind, call_from_dict
from connector.crm import AdapterContext, JobKind, MemoryState
from connector.errors import AuthError
from connector.settings_schema import Secret
from tests.unit.analytics.conftest import Server
from tests.unit.analytics.dataset import NOW, SITE, msk
from tests.unit.builtin.helpers import make_call


async def _post(server: Server, path: str, body: dict[str, Any], ext: str = "200") -> Any:
    async with server.http.post(server.url + path, json=body, headers=server.auth(ext)) as response:
        assert response.status == 201, await response.text()
        return await response.json()


def _sender(server: Server, session: aiohttp.ClientSession, token: str) -> Any:
    settings = WebhookSettings(
        url=f"{server.url}/api/crm/ingest", secret=Secret("s" * 16), live_events=True, token=Secret(token)
    )
    return create(settings, AdapterContext(name="webhook", session=session, state=MemoryState()))


async def test_two_offices_deliver_into_one_crm_and_reports_filter_by_office(empty: Server) -> None:
    server = empty
    spb = (await _post(server, "/api/crm/ingest/tokens", {"pbx": "spb"}))["token"]
    ekb = (await _post(server, "/api/crm/ingest/tokens", {"pbx": "ekb"}))["token"]
    listed = await server.get("/api/crm/ingest/tokens", "200")
    assert [t["pbx"] for t in listed["items"]] == ["ekb", "spb"]
    assert "token" not in listed["items"][0]  # shown once, stored hashed
    # Both PBXs happen to give their calls the same Asterisk id.
    same_id = "1763630000.1"
    answered = make_call(same_id, "+79160000001", did=SITE, start=msk(11, 20, 10), answered_by="202")
    missed = make_call(same_id, "+79160000002", did=SITE, start=msk(11, 20, 11), answered_by=None)
    outbound = make_call("1763630000.7", "+79160000003", direction=Direction.OUTBOUND, start=msk(11, 19, 9))
    async with aiohttp.ClientSession() as session:
        spb_sender, ekb_sender = _sender(server, session, spb), _sender(server, session, ekb)
        await spb_sender.perform(JobKind.LOG_CALL, answered.to_dict())
        await spb_sender.perform(JobKind.LOG_CALL, outbound.to_dict())
        await ekb_sender.perform(JobKind.LOG_CALL, missed.to_dict())
        await ekb_sender.perform(JobKind.LOG_CALL, missed.to_dict())  # the outbox retried: no second call
        # A body cannot claim another office: the token decides.
        await ekb_sender.perform(JobKind.LOG_CALL, dataclasses.replace(missed, id="x.1", pbx="spb").to_dict())
        ringing = LiveEvent(LiveKind.RINGING, same_id, NOW, Direction.INBOUND, "+79160000002", exten="202")
        await ekb_sender.perform(JobKind.LIVE, ringing.to_dict())  # relayed to this CRM's screen pop
        intruder = _sender(server, session, "not-a-token-of-this-crm")
        with pytest.raises(AuthError):
            await intruder.perform(JobKind.LOG_CALL, answered.to_dict())

    calls = await server.get("/api/crm/calls", "200")
    assert sorted((c["id"], c["pbx"]) for c in calls["items"]) == [
        ("ekb:1763630000.1", "ekb"), ("ekb:x.1", "ekb"), ("spb:1763630000.1", "spb"),
        ("spb:1763630000.7", "spb"),
    ]  # fmt: skip
    only_spb = await server.get("/api/crm/calls", "200", pbx="spb")
    assert {c["id"] for c in only_spb["items"]} == {"spb:1763630000.1", "spb:1763630000.7"}

    offices = await server.get("/api/crm/analytics/offices", "200")
    assert offices["items"] == ["ekb", "spb"]
    day = {"from": "2026-11-19", "to": NOW.date().isoformat()}
    every = (await server.get("/api/crm/analytics/summary", "200", **day))["calls"]
    spb_only = (await server.get("/api/crm/analytics/summary", "200", pbx="spb", **day))["calls"]
    ekb_only = (await server.get("/api/crm/analytics/lines", "200", pbx="ekb", **day))["total"]
    assert (every["incoming"], every["answered"], every["missed"], every["outgoing"]) == (3, 1, 2, 1)
    assert (spb_only["incoming"], spb_only["answered"], spb_only["outgoing"]) == (1, 1, 1)
    assert (ekb_only["calls"], ekb_only["answered"], ekb_only["unique_callers"]) == (2, 0, 1)


async def test_a_call_and_a_live_event_carry_their_office_through_json() -> None:
    call = dataclasses.replace(make_call("1.1"), pbx="spb")
    assert call_from_dict(call.to_dict()).pbx == "spb"
    assert "pbx" not in make_call("1.2").to_dict()  # unstamped records keep their old shape

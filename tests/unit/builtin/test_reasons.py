"""The built-in CRM keeps the tracker's reason: filter the calls list by it, count missed calls by
it in analytics, list closed-hours calls first (issue 24)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import aiohttp

from connector.calls.model import Reason
from tests.unit.builtin.helpers import T0, CrmServer, make_call
from tests.unit.calls.synthetic import Story, run


async def _get(http: aiohttp.ClientSession, server: CrmServer, path: str, ext: str = "200") -> Any:
    async with http.get(f"{server.url}/api/crm{path}", headers=server.headers(ext)) as r:
        return r.status, await r.json()


async def _seed(server: CrmServer) -> None:
    missed = [
        ("40.1", Reason.CLOSED_HOURS, 0),
        ("40.2", Reason.NO_ANSWER, 1),
        ("40.3", Reason.CLOSED_HOURS, 2),
        ("40.4", Reason.VOICEMAIL, 3),
    ]
    for call_id, reason, hour in missed:
        call = make_call(
            call_id, f"+7916000{call_id[-1]}000", answered_by=None, start=T0 + timedelta(hours=hour)
        )
        extra: dict[str, Any] = {"reason": reason}
        if reason is Reason.VOICEMAIL:
            extra |= {"voicemail_box": "202@default", "voicemail_left": True}
        await server.adapter.log_call(dataclasses.replace(call, **extra))
    await server.adapter.log_call(make_call("40.5", "+79160005000", start=T0 + timedelta(hours=4)))


async def test_calls_list_filters_by_reason(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "/calls?reason=closed_hours")
    assert [(c["id"], c["reason"]) for c in data["items"]] == [
        ("40.3", "closed_hours"),
        ("40.1", "closed_hours"),
    ]


async def test_a_voicemail_call_shows_its_mailbox(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "/calls?reason=voicemail")
    assert [c["voicemail"] for c in data["items"]] == [{"mailbox": "202@default", "message_left": True}]


async def test_an_unknown_reason_is_a_422(server: CrmServer, http: aiohttp.ClientSession) -> None:
    status, data = await _get(http, server, "/calls?reason=bored")
    assert status == 422 and data["errors"][0]["field"] == "reason"


async def test_closed_hours_calls_can_come_first(server: CrmServer, http: aiohttp.ClientSession) -> None:
    await _seed(server)
    _, data = await _get(http, server, "/calls?type=missed&closed_hours_first=true")
    assert [c["id"] for c in data["items"]] == ["40.3", "40.1", "40.4", "40.2"]


async def test_analytics_counts_missed_calls_by_reason(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    await _seed(server)
    day = T0.date().isoformat()
    status, data = await _get(http, server, f"/analytics/summary?from={day}&to={day}")
    assert status == 200 and data["calls"]["missed_by_reason"] == {
        "closed_hours": 2,
        "no_answer": 1,
        "voicemail": 1,
    }


async def test_a_closed_hours_call_from_ami_reaches_the_crm_as_missed_with_its_reason(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    """AMI events of MikoPBX's out-of-work-time branch → the tracker → the built-in CRM."""
    s = Story()
    trunk = s.chan(
        "PJSIP/trunk-00000001", number="79161234567", exten="74951110001", context="trunk-incoming"
    )
    s.new(trunk, "4")
    s.app(trunk, "Set", "currentYear=2026", context="check-out-work-time")
    s.app(trunk, "Set", "filename=out_work_times", context="work-time-set-var-1")
    s.app(trunk, "Playback", "out_work_times", context="playback-exit")
    s.hangup(trunk)
    for call in run(s.events):
        await server.adapter.log_call(call)
    _, data = await _get(http, server, "/calls?type=missed&reason=closed_hours")
    assert [(c["phone"], c["disposition"], c["reason"]) for c in data["items"]] == [
        ("+79161234567", "missed", "closed_hours")
    ]

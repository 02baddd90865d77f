"""The call-control HTTP routes on a real aiohttp server on 127.0.0.1, and the CRM entry points
(amoCRM widget) driving the same service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

from adapters.amocrm.settings import WidgetSettings
from adapters.amocrm.users import UserMap
from adapters.amocrm.widget import create_widget_app
from connector.api import control as control_api
from connector.api.app import create_app
from connector.config import ApiToken, HttpSettings
from connector.control import CallControl, CallControlSettings
from connector.settings_schema import Secret

from .recorder import RecordingPbx, channel

TOKEN = "api-token-for-tests-abcdef"
WIDGET = "widget-token-for-tests"


@dataclass
class Served:
    """The app on a real port, the PBX it talks to, and an HTTP client."""

    url: str
    pbx: RecordingPbx
    http: aiohttp.ClientSession

    async def post(self, path: str, body: Any, token: str = TOKEN) -> tuple[int, dict[str, Any], str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(self.url + path, json=body, headers=headers) as response:
            return (
                response.status,
                await response.json(content_type=None),
                response.headers.get("Retry-After", ""),
            )


@pytest_asyncio.fixture
async def served() -> AsyncIterator[Served]:
    pbx = RecordingPbx(
        [
            channel("PJSIP/SIP-1611151795-00000001", "pbx-1.1", "pbx-1.1", bridge="b1"),
            channel("PJSIP/201-00000002", "pbx-1.2", "pbx-1.1", bridge="b1"),
        ]
    )
    control = CallControl(pbx, CallControlSettings(calls_per_minute=2))
    app = create_app(HttpSettings(tokens=(ApiToken("crm", Secret(TOKEN), ("201", "202")),)))
    control_api.setup(app, control)
    widget = WidgetSettings(enabled=True, token=Secret(WIDGET), extensions=("201",))
    app.add_subapp("/amocrm/widget/", create_widget_app(widget, UserMap({}, 600.0), control))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        yield Served(f"http://127.0.0.1:{port}", pbx, http)
    await runner.cleanup()


async def test_originate_answers_with_the_conversation_id(served: Served) -> None:
    status, body, _ = await served.post(
        "/api/calls/originate", {"extension": "201", "number": "+79161234567"}
    )
    assert (status, body["conversation"]) == (202, served.pbx.sent[0][1]["ChannelId"])


async def test_a_request_without_a_token_is_unauthorized(served: Served) -> None:
    status, _, _ = await served.post(
        "/api/calls/originate", {"extension": "201", "number": "+79161234567"}, ""
    )
    assert (status, served.pbx.sent) == (401, [])


async def test_an_extension_outside_the_token_is_forbidden(served: Served) -> None:
    status, _, _ = await served.post("/api/calls/originate", {"extension": "205", "number": "+79161234567"})
    assert (status, served.pbx.sent) == (403, [])


async def test_a_premium_number_is_forbidden(served: Served) -> None:
    status, _, _ = await served.post("/api/calls/originate", {"extension": "201", "number": "+88216123456"})
    assert (status, served.pbx.sent) == (403, [])


async def test_too_many_calls_get_429_with_retry_after(served: Served) -> None:
    body = {"extension": "201", "number": "+79161234567"}
    for _ in range(2):
        await served.post("/api/calls/originate", body)
    status, _, retry = await served.post("/api/calls/originate", body)
    assert (status, int(retry) > 0) == (429, True)


async def test_a_missing_field_is_a_bad_request(served: Served) -> None:
    status, body, _ = await served.post("/api/calls/originate", {"extension": "201"})
    assert (status, body["detail"]) == (400, "number is required")


async def test_hangup_of_an_idle_extension_is_not_found(served: Served) -> None:
    status, _, _ = await served.post("/api/calls/hangup", {"extension": "202"})
    assert status == 404


async def test_transfer_of_a_talking_extension_is_done(served: Served) -> None:
    status, _, _ = await served.post(
        "/api/calls/transfer", {"extension": "201", "target": "203", "kind": "attended"}
    )
    assert (status, served.pbx.actions()[-1]) == (200, "Atxfer")


async def test_a_transfer_of_an_unknown_kind_is_a_bad_request(served: Served) -> None:
    status, _, _ = await served.post(
        "/api/calls/transfer", {"extension": "201", "target": "203", "kind": "warm"}
    )
    assert status == 400


async def test_the_amocrm_widget_places_its_calls_through_the_service(served: Served) -> None:
    status, body, _ = await served.post(
        "/amocrm/widget/originate", {"extension": "201", "number": "+79161234567"}, WIDGET
    )
    assert (status, body["id"]) == (200, served.pbx.sent[0][1]["ChannelId"])


async def test_the_amocrm_widget_hangs_up_through_the_service(served: Served) -> None:
    status, _, _ = await served.post("/amocrm/widget/hangup", {"extension": "201"}, WIDGET)
    assert (status, served.pbx.actions()[-1]) == (200, "Hangup")


def test_the_service_fits_every_crm_entry_point() -> None:
    # Checked by mypy (`mypy tests/unit/routing`): the service satisfies each adapter's protocol.
    from adapters.amocrm.widget import CallControl as AmoCallControl
    from adapters.bitrix24.webhook import CallControl as BitrixCallControl

    control = CallControl(RecordingPbx(), CallControlSettings())
    amo: AmoCallControl = control
    bitrix: BitrixCallControl = control
    assert (amo, bitrix) == (control, control)

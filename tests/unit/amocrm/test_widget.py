"""The widget endpoint: authenticated click-to-call, hang-up and transfer, guarded against toll fraud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from adapters.amocrm.settings import WidgetSettings
from adapters.amocrm.users import UserMap
from adapters.amocrm.widget import create_widget_app
from connector.calls.model import TransferKind
from connector.errors import CallNotFoundError
from connector.settings_schema import Secret

TOKEN = "widget-token-123456"
ORIGIN = "https://example.amocrm.ru"


@dataclass
class RecordingCallControl:
    """A real, small call-control service that records what it was asked to do."""

    requests: list[tuple[str, ...]] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)

    async def originate(self, extension: str, number: str) -> str:
        self.requests.append(("originate", extension, number))
        return f"orig-{len(self.requests)}"

    async def hangup(self, extension: str) -> None:
        if extension not in self.busy:
            raise CallNotFoundError(f"extension {extension} has no call")
        self.requests.append(("hangup", extension))

    async def transfer(self, extension: str, target: str, kind: TransferKind) -> None:
        self.requests.append(("transfer", extension, target, kind.value))


@dataclass
class Widget:
    url: str
    control: RecordingCallControl
    session: aiohttp.ClientSession

    async def post(self, path: str, body: object, token: str = TOKEN) -> tuple[int, dict[str, object]]:
        headers = {"Authorization": f"Bearer {token}", "Origin": ORIGIN}
        async with self.session.post(self.url + path, json=body, headers=headers) as response:
            return response.status, await response.json()


async def serve(
    control: RecordingCallControl | None, root: web.Application | None = None, **options: object
) -> AsyncIterator[str]:
    settings = WidgetSettings(enabled=True, token=Secret(TOKEN), allowed_origins=(ORIGIN,), **options)  # type: ignore[arg-type]
    root = root if root is not None else web.Application()
    root.add_subapp("/amocrm/widget/", create_widget_app(settings, UserMap({"201": "555"}, 600), control))
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/amocrm/widget"
    await runner.cleanup()


@pytest.fixture
async def widget(session: aiohttp.ClientSession) -> AsyncIterator[Widget]:
    control = RecordingCallControl(busy={"201"})
    async for url in serve(control, extensions=("201", "202")):
        yield Widget(url, control, session)


async def test_click_to_call_by_amocrm_user_rings_its_extension(widget: Widget) -> None:
    status, body = await widget.post("/originate", {"user_id": 555, "number": "+79161234567"})
    assert (status, body["ok"]) == (200, True)
    assert widget.control.requests == [("originate", "201", "+79161234567")]


async def test_wrong_token_is_refused_and_nothing_dialled(widget: Widget) -> None:
    async with widget.session.post(
        widget.url + "/originate",
        json={"extension": "201", "number": "+79161234567"},
        headers={"Authorization": "Bearer nope"},
    ) as response:
        assert response.status == 401
    assert widget.control.requests == []


async def test_number_outside_pattern_is_not_permitted(widget: Widget) -> None:
    status, _ = await widget.post("/originate", {"extension": "201", "number": "+88*#1234"})
    assert status == 403
    assert widget.control.requests == []


async def test_extension_not_listed_is_not_permitted(widget: Widget) -> None:
    status, _ = await widget.post("/originate", {"extension": "209", "number": "+79161234567"})
    assert status == 403


async def test_user_without_extension_is_not_permitted(widget: Widget) -> None:
    status, body = await widget.post("/originate", {"user_id": 777, "number": "+79161234567"})
    assert status == 403
    assert "no extension" in str(body["error"])


async def test_hangup_reaches_call_control(widget: Widget) -> None:
    status, _ = await widget.post("/hangup", {"extension": "201"})
    assert status == 200
    assert widget.control.requests == [("hangup", "201")]


async def test_hangup_without_call_is_not_found(widget: Widget) -> None:
    status, _ = await widget.post("/hangup", {"extension": "202"})
    assert status == 404


async def test_attended_transfer_is_passed_on(widget: Widget) -> None:
    status, _ = await widget.post("/transfer", {"extension": "201", "target": "205", "kind": "attended"})
    assert status == 200
    assert widget.control.requests == [("transfer", "201", "205", "attended")]


async def test_transfer_of_unknown_kind_is_a_bad_request(widget: Widget) -> None:
    status, _ = await widget.post("/transfer", {"extension": "201", "target": "205", "kind": "sideways"})
    assert status == 400


async def test_cors_preflight_answers_the_amocrm_origin(widget: Widget) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    async with widget.session.options(widget.url + "/originate", headers=headers) as response:
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_without_call_control_the_endpoint_is_unavailable(session: aiohttp.ClientSession) -> None:
    async for url in serve(None):
        async with session.post(
            url + "/hangup", json={"extension": "201"}, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 503


async def test_a_refusal_inside_the_daemons_app_still_reaches_the_widgets_script(
    session: aiohttp.ClientSession,
) -> None:
    from connector.api.app import create_app
    from connector.config import HttpSettings

    async for url in serve(RecordingCallControl(), create_app(HttpSettings())):
        headers = {"Authorization": "Bearer wrong", "Origin": ORIGIN}
        async with session.post(url + "/hangup", json={"extension": "201"}, headers=headers) as response:
            assert (response.status, response.headers.get("Access-Control-Allow-Origin")) == (401, ORIGIN)

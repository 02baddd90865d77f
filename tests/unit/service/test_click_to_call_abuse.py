"""Click-to-call under abuse, as the daemon wires it: a flood through one CRM token, values that
would inject AMI headers or channel variables, and a portal event delivered more than once.

Uses the daemon of `test_entry_points` (YAML → Service → adapters → HTTP app → AMI client → an
in-test AMI server standing in for Asterisk) and asserts on what that server received.
"""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from adapters.bitrix24.telephony import pending_key
from tests.unit.service import test_entry_points as entry
from tests.unit.service.test_entry_points import CLIENT, WIDGET, Daemon, _portal_click

daemon = entry.daemon  # the same daemon under test, by the name the tests ask for


async def _widget_click(daemon: Daemon, extension: str) -> int:
    body = {"extension": extension, "number": CLIENT}
    response = await daemon.http.post("/amocrm/widget/originate", json=body, headers=WIDGET)
    return response.status


async def test_one_widget_token_cannot_flood_the_pbx_through_many_extensions(daemon: Daemon) -> None:
    # The widget token sits in every amoCRM user's browser; a limit per extension alone let it
    # place 800 calls in 0.8 s by naming a different extension each time.
    options = daemon.settings.call_control
    tries = options.crm_calls_per_minute * 3
    with capture_logs() as logs:
        statuses = [await _widget_click(daemon, str(200 + n % 100)) for n in range(tries)]
    assert statuses.count(200) == options.crm_calls_per_minute
    assert len(await daemon.originates()) == options.crm_calls_per_minute
    floods = [e for e in logs if e["event"] == "control.flood"]
    assert [(e["level"], e["who"]) for e in floods] == [("source", "amocrm")]  # one alert a minute


async def test_a_flood_through_one_entry_point_leaves_the_others_their_share(daemon: Daemon) -> None:
    options = daemon.settings.call_control
    for n in range(options.crm_calls_per_minute + 5):
        await _widget_click(daemon, str(200 + n % 100))
    response = await daemon.http.post("/webhooks/bitrix24", data=_portal_click("externalCall.after-flood"))
    assert response.status == 200, await response.text()


async def test_a_portal_call_id_with_a_comma_is_refused_and_adds_no_channel_variable(daemon: Daemon) -> None:
    response = await daemon.http.post(
        "/webhooks/bitrix24", data=_portal_click("externalCall.1,OUTBOUND_ROUTE=evil")
    )
    assert response.status == 400, await response.text()
    assert await daemon.originates() == []
    assert await daemon.adapters["bitrix24"].context.state.get(pending_key("202", CLIENT)) is None


async def test_a_portal_call_id_with_a_line_break_is_a_4xx_and_leaves_no_pending_row(daemon: Daemon) -> None:
    response = await daemon.http.post(
        "/webhooks/bitrix24", data=_portal_click("externalCall.2\r\nAction: Hangup")
    )
    assert response.status == 400, await response.text()
    assert await daemon.originates() == []
    assert await daemon.adapters["bitrix24"].context.state.get(pending_key("202", CLIENT)) is None


async def test_an_extension_with_a_line_break_is_a_4xx(daemon: Daemon) -> None:
    form = _portal_click("externalCall.3") | {"data[USER_ID]": "999", "data[EXTENSION]": "202\r\nX: 1"}
    response = await daemon.http.post("/webhooks/bitrix24", data=form)
    assert 400 <= response.status < 500, await response.text()
    assert await daemon.originates() == []


async def test_the_same_portal_event_delivered_three_times_places_one_call(daemon: Daemon) -> None:
    form = _portal_click("externalCall.5c8d2a61f7e94b3b")
    responses = await asyncio.gather(*(daemon.http.post("/webhooks/bitrix24", data=form) for _ in range(3)))
    assert sorted(r.status for r in responses) == [200, 200, 200]
    assert len(await daemon.originates()) == 1


def test_the_widget_acts_for_no_extension_until_they_are_listed() -> None:
    from adapters.amocrm.settings import WidgetSettings

    assert WidgetSettings().extensions == ()


async def test_refused_click_to_calls_are_counted_on_metrics(daemon: Daemon) -> None:
    from connector.api.health import HealthSources, render

    control = daemon.adapters["amocrm"].context.call_control.control
    for n in range(daemon.settings.call_control.crm_calls_per_minute + 2):
        await _widget_click(daemon, str(200 + n % 100))
    text = render(await HealthSources(control=control).metrics())
    assert 'crm_connector_click_to_call_refused_total{level="source"} 2' in text


async def test_a_widget_past_its_rate_gets_429_with_retry_after_not_403(daemon: Daemon) -> None:
    """A rate refusal passes: the widget must be told when to try again (403 says "never")."""
    options = daemon.settings.call_control
    for n in range(options.crm_calls_per_minute):
        assert await _widget_click(daemon, str(200 + n % 100)) == 200
    body = {"extension": "201", "number": CLIENT}
    response = await daemon.http.post("/amocrm/widget/originate", json=body, headers=WIDGET)
    answer = await response.json()
    assert (response.status, answer["ok"]) == (429, False)
    assert 1 <= int(response.headers["Retry-After"]) <= 60

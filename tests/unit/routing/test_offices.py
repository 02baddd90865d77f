"""Many PBXs, one CRM: call control for another office's extension goes to that office's
connector (its real HTTP API on 127.0.0.1, with its own call control on a recording PBX), and
its refusals come back with their meaning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp import web

from connector.api import control as control_api
from connector.api.app import create_app
from connector.calls.model import TransferKind
from connector.config import ApiToken, ConfigError, HttpSettings, loads
from connector.control import CallControl, CallControlSettings
from connector.errors import (
    CallControlError,
    CallNotFoundError,
    NotPermittedError,
    PbxUnavailableError,
    TooManyCallsError,
)
from connector.offices import Offices, OfficeSettings
from connector.settings_schema import Secret

from .recorder import RecordingPbx, channel

REMOTE_TOKEN = "spb-office-control-token-123456"
CLIENT = "+79161234567"


@dataclass
class TwoOffices:
    """This office's call control (with `offices`) and the remote office's PBX behind its API."""

    local: CallControl
    local_pbx: RecordingPbx
    remote_pbx: RecordingPbx
    remote_control: CallControl
    offices: Offices


async def _serve(control: CallControl) -> tuple[web.AppRunner, str]:
    app = create_app(HttpSettings(tokens=(ApiToken("moscow-crm", Secret(REMOTE_TOKEN), ("*",)),)))
    control_api.setup(app, control)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest_asyncio.fixture
async def two() -> AsyncIterator[TwoOffices]:
    remote_pbx = RecordingPbx(
        [
            channel("PJSIP/SIP-1611151795-00000001", "spb-1.1", "spb-1.1", bridge="b1"),
            channel("PJSIP/202-00000002", "spb-1.2", "spb-1.1", bridge="b1"),
        ]
    )
    remote_control = CallControl(remote_pbx, CallControlSettings(calls_per_minute=3))
    runner, url = await _serve(remote_control)
    offices = Offices((OfficeSettings("spb", url, Secret(REMOTE_TOKEN), ("2[0-9][0-9]",)),))
    local_pbx = RecordingPbx()
    local = CallControl(local_pbx, CallControlSettings(), offices=offices)
    yield TwoOffices(local, local_pbx, remote_pbx, remote_control, offices)
    await offices.close()
    await runner.cleanup()


async def test_click_to_call_for_another_offices_extension_rings_on_that_pbx(two: TwoOffices) -> None:
    conversation = await two.local.originate("202", CLIENT)
    assert two.local_pbx.sent == []
    [(action, headers)] = two.remote_pbx.sent
    assert (action, headers["Channel"], headers["Exten"], headers["ChannelId"]) == (
        "Originate",
        CallControlSettings().originate_channel.format(ext="202"),
        CLIENT,
        conversation,
    )


async def test_this_offices_extension_stays_on_this_pbx(two: TwoOffices) -> None:
    await two.local.originate("101", CLIENT)
    assert (two.local_pbx.actions(), two.remote_pbx.sent) == (["Originate"], [])


async def test_hangup_and_transfer_reach_the_owning_pbx(two: TwoOffices) -> None:
    await two.local.transfer("202", "203", TransferKind.BLIND)
    await two.local.hangup("202")
    assert two.local_pbx.sent == []
    assert [a for a in two.remote_pbx.actions() if a != "CoreShowChannels"] == ["BlindTransfer", "Hangup"]


async def test_the_remote_offices_refusals_keep_their_meaning(two: TwoOffices) -> None:
    with pytest.raises(CallNotFoundError, match="office spb: extension 203 has no call"):
        await two.local.hangup("203")
    two.remote_pbx.refuse["Originate"] = "Extension does not exist."
    with pytest.raises(CallControlError, match="office spb") as refused:
        await two.local.originate("204", CLIENT)
    assert not isinstance(refused.value, PbxUnavailableError | NotPermittedError)


async def test_the_remote_rate_limit_comes_back_with_its_wait(two: TwoOffices) -> None:
    for _ in range(3):
        await two.local.originate("205", CLIENT)
    with pytest.raises(TooManyCallsError) as limited:
        await two.local.originate("205", CLIENT)
    assert limited.value.retry_after >= 1


async def test_a_wrong_token_for_the_office_is_not_permitted_and_says_so(two: TwoOffices) -> None:
    office = two.offices.settings[0]
    wrong = Offices((OfficeSettings("spb", office.url, Secret("not-the-right-token-000"), ("2..",)),))
    control = CallControl(RecordingPbx(), CallControlSettings(), offices=wrong)
    with pytest.raises(NotPermittedError, match="office spb refused this CRM's token"):
        await control.originate("202", CLIENT)
    await wrong.close()
    assert two.remote_pbx.sent == []


async def test_an_unreachable_office_is_unavailable_not_a_hang() -> None:
    offices = Offices((OfficeSettings("spb", "http://127.0.0.1:9", Secret(REMOTE_TOKEN), ("2..",), 1.0),))
    control = CallControl(RecordingPbx(), CallControlSettings(), offices=offices)
    with pytest.raises(PbxUnavailableError, match="office spb is not reachable"):
        await control.originate("202", CLIENT)
    await offices.close()


async def test_the_crm_says_whose_extension_it_is_when_no_pattern_does(two: TwoOffices) -> None:
    office = two.offices.settings[0]
    offices = Offices((OfficeSettings("spb", office.url, Secret(REMOTE_TOKEN)),))
    owners = {"301": "spb", "101": ""}

    async def owner(extension: str) -> str | None:
        return owners.get(extension)

    offices.owner = owner
    local_pbx = RecordingPbx()
    control = CallControl(local_pbx, CallControlSettings(), offices=offices)
    await control.originate("301", CLIENT)
    await control.originate("101", CLIENT)
    await control.originate("102", CLIENT)  # nobody's: this PBX
    await offices.close()
    assert len(local_pbx.sent) == 2
    assert [h["Channel"] for _, h in two.remote_pbx.sent] == [
        CallControlSettings().originate_channel.format(ext="301")
    ]


async def test_local_guards_apply_before_anything_is_forwarded(two: TwoOffices) -> None:
    with pytest.raises(NotPermittedError, match="not allowed for click-to-call"):
        await two.local.originate("202", "900")
    with pytest.raises(CallControlError, match="auto-dial lists ring this PBX's extensions only"):
        await two.local.originate("202", CLIENT, conversation="crm-dialer-1.1")
    assert two.remote_pbx.sent == []


CONFIG = """
ami: {{host: 127.0.0.1, username: crm, secret: s3cret-for-tests}}
pbx: {{id: msk}}
offices:
{offices}
"""
SPB = "  - {pbx: spb, url: 'http://10.0.2.5:8088', token: spb-office-control-token-123456}"


def test_offices_are_read_from_the_yaml() -> None:
    settings = loads(CONFIG.format(offices=SPB[:-1] + ", extensions: ['2\\d\\d']}"))
    [office] = settings.offices
    assert (office.pbx, office.owns("205"), office.owns("105")) == ("spb", True, False)
    assert "spb-office-control-token" not in repr(settings)


@pytest.mark.parametrize(
    ("offices", "message"),
    [
        (SPB + "\n" + SPB, "office 'spb' is listed twice"),
        (SPB.replace("pbx: spb", "pbx: msk"), "office 'msk' is this connector's own pbx.id"),
        (SPB.replace("http://", "ftp://"), "url must start with http"),
        (SPB.replace("spb-office-control-token-123456", "short"), "token must be"),
    ],
)
def test_bad_offices_are_refused_with_the_reason(offices: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loads(CONFIG.format(offices=offices))

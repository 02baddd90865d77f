"""Call-control actions: always Async Originate, Asterisk's refusals and timeouts as clear errors."""

from __future__ import annotations

import pytest

from connector.ami import actions
from connector.ami.client import AmiClient
from connector.errors import AmiActionError, AmiConnectionError
from tests.unit.ami.amiserver import AmiServer
from tests.unit.ami.conftest import settings_for


async def connected(server: AmiServer, **changes: object) -> AmiClient:
    client = AmiClient(settings_for(server, ping_interval=60.0, **changes), lambda message: None)
    client.start()
    await client.wait_connected(5)
    return client


async def test_originate_is_always_async(server: AmiServer) -> None:
    client = await connected(server)
    try:
        await actions.originate(client, channel="PJSIP/201", context="internal", exten="74951234567")
    finally:
        await client.stop()
    sent = await server.wait_action("Originate")
    assert sent["Async"] == "true"


async def test_originate_outcome_comes_from_originate_response(server: AmiServer) -> None:
    client = await connected(server)
    try:
        originated = await actions.originate(client, channel="PJSIP/201", context="internal", exten="202")
        outcome = await originated.outcome(within=5)
    finally:
        await client.stop()
    assert outcome == actions.OriginateOutcome(
        success=True, reason=actions.OriginateReason.ANSWERED, uniqueid="1763805600.42", channel="PJSIP/201"
    )


async def test_a_refused_action_carries_asterisks_message(server: AmiServer) -> None:
    client = await connected(server)
    try:
        with pytest.raises(AmiActionError, match="No such channel"):
            await actions.hangup(client, "PJSIP/999-00000001")
    finally:
        await client.stop()


async def test_an_unanswered_action_times_out(server: AmiServer) -> None:
    client = await connected(server)
    try:
        server.frozen = True
        with pytest.raises(AmiActionError, match="no answer"):
            await actions.hangup(client, "PJSIP/201-00000001", within=0.1)
    finally:
        await client.stop()


async def test_an_action_while_ami_is_down_fails_at_once_and_is_not_queued(server: AmiServer) -> None:
    client = AmiClient(settings_for(server), lambda message: None)
    with pytest.raises(AmiConnectionError, match="not connected"):
        await actions.hangup(client, "PJSIP/201-00000001")
    assert server.actions == []


async def test_core_show_channels_lists_the_live_channels(server: AmiServer) -> None:
    server.channels = [
        {"Channel": "PJSIP/201-00000001", "Uniqueid": "1.1"},
        {"Channel": "x", "Uniqueid": "1.2"},
    ]
    client = await connected(server)
    try:
        channels = await actions.core_show_channels(client)
    finally:
        await client.stop()
    assert [c["Uniqueid"] for c in channels] == ["1.1", "1.2"]

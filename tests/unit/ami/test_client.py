"""The AMI client against a real TCP server: login, filters, order, reconnects, watchdog, resync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from structlog.testing import capture_logs

from connector.ami.client import AUTH_GRACE, AmiClient, ChannelSnapshot, backoff_delay
from connector.ami.filters import default_filters
from connector.ami.protocol import Message
from connector.config import AmiSettings
from connector.settings_schema import Secret
from tests.unit.ami.amiserver import AmiServer
from tests.unit.ami.conftest import settings_for


class Events:
    """Collects the client's events; `wait(n)` returns once n have arrived."""

    def __init__(self) -> None:
        self.items: list[Message] = []
        self._changed = asyncio.Event()

    def __call__(self, message: Message) -> None:
        self.items.append(message)
        self._changed.set()

    async def wait(self, count: int) -> list[Message]:
        while len(self.items) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.items


@asynccontextmanager
async def running(
    settings: AmiSettings,
    on_event: Callable[[Message], None],
    on_session: Callable[[ChannelSnapshot], object] | None = None,
) -> AsyncIterator[AmiClient]:
    client = AmiClient(settings, on_event, on_session=on_session, jitter=lambda: 0.0)  # type: ignore[arg-type]
    client.start()
    try:
        yield client
    finally:
        await client.stop()


async def test_a_cyrillic_name_sent_one_byte_at_a_time_arrives_intact() -> None:
    events = Events()
    async with AmiServer(byte_at_a_time=True) as server, running(settings_for(server), events) as client:
        await client.wait_connected(5)
        await server.send_event({"Event": "Newchannel", "CallerIDName": "Иван Петрович", "Uniqueid": "1.1"})
        received = await events.wait(1)
    assert received[0]["CallerIDName"] == "Иван Петрович"


async def test_login_asks_for_the_configured_event_mask(server: AmiServer) -> None:
    async with running(settings_for(server, events=("call", "user")), Events()) as client:
        await client.wait_connected(5)
        assert server.connections[0].events_mask == "call,user"


async def test_login_installs_the_trackers_event_filter(server: AmiServer) -> None:
    async with running(settings_for(server), Events()) as client:
        await client.wait_connected(5)
        assert server.connections[0].filters == list(default_filters())


async def test_configured_filters_replace_the_default_set(server: AmiServer) -> None:
    async with running(settings_for(server, filters=("Event: Hangup",)), Events()) as client:
        await client.wait_connected(5)
        assert server.connections[0].filters == ["Event: Hangup"]


async def test_events_reach_the_callback_in_order(server: AmiServer) -> None:
    events = Events()
    async with running(settings_for(server), events) as client:
        await client.wait_connected(5)
        for i in range(300):
            await server.send_event({"Event": "DialState", "Seq": str(i)})
        received = await events.wait(300)
    assert [e["Seq"] for e in received] == [str(i) for i in range(300)]


async def test_a_failing_callback_keeps_the_connection(server: AmiServer) -> None:
    events = Events()

    def callback(message: Message) -> None:
        events(message)
        if message["Seq"] == "1":
            raise KeyError("tracker bug")

    async with running(settings_for(server), callback) as client:
        await client.wait_connected(5)
        with capture_logs() as logs:
            await server.send_event({"Event": "Hangup", "Seq": "1"})
            await server.send_event({"Event": "Hangup", "Seq": "2"})
            await events.wait(2)
    assert server.login_attempts == 1
    failure = next(e for e in logs if e["event"] == "ami.event_handler_failed")
    assert failure["ami_event"] == {"Event": "Hangup", "Seq": "1"}


async def test_wrong_credentials_are_a_clear_error_and_not_retried_quickly(server: AmiServer) -> None:
    settings = settings_for(server, auth_retry=60.0, secret=Secret("wrong"))
    with capture_logs() as logs:
        async with running(settings, Events()) as c:
            await server.wait_action("Login", AUTH_GRACE)
            while True:  # the client's own state changes: no event to await
                if c.status.retry_in == 60.0:
                    break
                await asyncio.sleep(0.01)
            assert server.login_attempts == AUTH_GRACE
    refused = [e for e in logs if e["event"] == "ami.login_refused"]
    assert len(refused) == 1
    assert "ami.username" in refused[0]["reason"]
    assert "wrong" not in str(logs)


async def test_a_booting_asterisk_that_refuses_one_login_is_retried_soon(server: AmiServer) -> None:
    server.secret = "not-yet"  # users not loaded yet
    async with running(settings_for(server, auth_retry=60.0, secret=Secret("s3cret")), Events()) as c:
        await server.wait_action("Login")
        server.secret = "s3cret"
        await c.wait_connected(5)
        assert c.status.auth_failed is False


async def test_a_dropped_connection_is_reopened_and_logged_once_each_way(server: AmiServer) -> None:
    with capture_logs() as logs:
        async with running(settings_for(server, ping_interval=60.0), Events()) as client:
            await client.wait_connected(5)
            server.drop()
            await server.wait_logins(2)
            await client.wait_connected(5)
            assert client.status.reconnects == 1
    names = [e["event"] for e in logs if e["event"].startswith("ami.")]
    assert names.count("ami.lost") == 1
    assert names.count("ami.restored") == 1


async def test_a_frozen_asterisk_is_detected_by_the_ping_watchdog(server: AmiServer) -> None:
    with capture_logs() as logs:
        async with running(settings_for(server), Events()) as client:
            await client.wait_connected(5)
            server.answer_pings = False
            await server.wait_logins(2)  # the watchdog dropped the silent session and logged in again
    lost = next(e for e in logs if e["event"] == "ami.lost")
    assert "Ping" in lost["reason"]


async def test_after_a_reconnect_the_hook_gets_the_channels_alive_now(server: AmiServer) -> None:
    snapshots: list[ChannelSnapshot] = []

    async def hook(snapshot: ChannelSnapshot) -> None:
        snapshots.append(snapshot)

    server.channels = [{"Channel": "PJSIP/201-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}]
    async with running(settings_for(server, ping_interval=60.0), Events(), hook) as client:
        await client.wait_connected(5)
        server.channels = []
        server.drop()
        await server.wait_logins(2)
        await client.wait_connected(5)
    assert [(s.first, s.alive) for s in snapshots] == [(True, frozenset({"1.1"})), (False, frozenset())]


async def test_a_channel_that_hangs_up_while_listed_is_not_taken_for_alive(server: AmiServer) -> None:
    snapshots: list[ChannelSnapshot] = []

    async def hook(snapshot: ChannelSnapshot) -> None:
        snapshots.append(snapshot)

    server.channels = [
        {"Channel": "PJSIP/201-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"},
        {"Channel": "PJSIP/202-00000002", "Uniqueid": "1.2", "Linkedid": "1.2"},
    ]
    server.hang_up_while_listing = {"1.1"}
    async with running(settings_for(server), Events(), hook) as client:
        await client.wait_connected(5)
    (snapshot,) = snapshots
    assert (snapshot.alive, [c["Uniqueid"] for c in snapshot.channels]) == (frozenset({"1.2"}), ["1.2"])


async def test_a_connection_lost_during_the_resync_is_reopened(server: AmiServer) -> None:
    snapshots: list[ChannelSnapshot] = []

    async def hook(snapshot: ChannelSnapshot) -> None:
        snapshots.append(snapshot)

    server.drop_on_list = 1
    async with running(settings_for(server), Events(), hook) as client:
        await server.wait_logins(2)
        await client.wait_connected(5)
    assert len(snapshots) == 1


async def test_list_items_do_not_reach_the_event_callback(server: AmiServer) -> None:
    events = Events()

    async def hook(snapshot: ChannelSnapshot) -> None:
        pass

    server.channels = [{"Channel": "PJSIP/201-00000001", "Uniqueid": "1.1"}]
    async with running(settings_for(server), events, hook) as client:
        await client.wait_connected(5)
        await server.send_event({"Event": "Hangup", "Uniqueid": "1.1"})
        received = await events.wait(1)
    assert [e["Event"] for e in received] == ["Hangup"]


def test_backoff_doubles_up_to_the_ceiling_with_jitter() -> None:
    assert [backoff_delay(n, 0.5, 30.0, 1.0) for n in (1, 2, 3, 8, 100)] == [0.5, 1.0, 2.0, 30.0, 30.0]
    assert backoff_delay(3, 0.5, 30.0, 0.0) == 1.0

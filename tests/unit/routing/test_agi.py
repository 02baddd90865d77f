"""The FastAGI endpoint over real TCP on 127.0.0.1, with a small Asterisk-side AGI peer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from connector.ami.agi import AgiServer
from connector.crm import Contact
from connector.routing import Interception, InterceptionSettings, ResponsibleFinder

from .recorder import RecordingPbx

KNOWN = "+79161112233"


async def lookup(phone: str) -> Contact | None:
    if phone == KNOWN:
        return Contact("1", "Клиент", (phone,), responsible_extension="203")
    return None


async def slow_lookup(phone: str) -> Contact | None:
    await asyncio.sleep(5)
    return None


async def serve(*, slow: bool = False) -> AgiServer:
    settings = InterceptionSettings(enabled=True, attempt_seconds=9, lookup_timeout=0.3)
    finder = ResponsibleFinder([("crm", slow_lookup if slow else lookup)], settings)
    server = AgiServer(Interception(settings, finder), "127.0.0.1", 0)
    await server.start()
    return server


@pytest_asyncio.fixture
async def server() -> AsyncIterator[AgiServer]:
    running = await serve()
    yield running
    await running.stop()


async def asterisk(port: int, caller: str, *, device_state: str = "NOT_INUSE") -> dict[str, str]:
    """Play Asterisk's side of one AGI request; the variables the server set."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    env = [
        "agi_network: yes",
        "agi_network_script: interception",
        "agi_channel: PJSIP/SIP-1611151795-00000001",
        f"agi_callerid: {caller}",
        "agi_arg_1: 74951110001",
    ]
    writer.write(("\n".join(env) + "\n\n").encode())
    variables: dict[str, str] = {}
    while line := (await reader.readline()).decode().strip():
        if line.startswith("GET FULL VARIABLE"):
            writer.write(f"200 result=1 ({device_state})\n".encode())
        else:
            _, _, rest = line.partition("SET VARIABLE ")
            name, _, value = rest.partition(" ")
            variables[name] = value.strip('"')
            writer.write(b"200 result=1\n")
    writer.close()
    return variables


async def test_a_known_caller_gets_the_responsible_and_the_attempt_time(server: AgiServer) -> None:
    variables = await asterisk(server.port, KNOWN)
    assert variables == {
        "CRM_RESPONSIBLE": "203",
        "CRM_INTERCEPT_DIAL": "Local/203@internal-users",
        "CRM_INTERCEPT_SECONDS": "9",
        "CRM_INTERCEPT_REASON": "responsible",
    }


async def test_an_unknown_caller_gets_empty_variables(server: AgiServer) -> None:
    variables = await asterisk(server.port, "+79165550000")
    assert (variables["CRM_RESPONSIBLE"], variables["CRM_INTERCEPT_REASON"]) == ("", "no_responsible")


async def test_an_unavailable_device_is_not_rung(server: AgiServer) -> None:
    variables = await asterisk(server.port, KNOWN, device_state="UNAVAILABLE")
    assert (variables["CRM_RESPONSIBLE"], variables["CRM_INTERCEPT_REASON"]) == ("", "device_unavailable")


async def test_a_slow_crm_answers_timeout_instead_of_holding_the_caller() -> None:
    running = await serve(slow=True)
    try:
        variables = await asterisk(running.port, KNOWN)
    finally:
        await running.stop()
    assert variables["CRM_INTERCEPT_REASON"] == "lookup_timeout"


async def test_a_connection_closed_before_its_environment_is_dropped(server: AgiServer) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\n")
    writer.close()
    await writer.wait_closed()
    # The server is still serving: a proper request right after gets its answer.
    assert (await asterisk(server.port, KNOWN))["CRM_RESPONSIBLE"] == "203"


async def test_a_peer_that_never_finishes_its_environment_is_cut_off_at_the_deadline(
    server: AgiServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\n")
    closed = await reader.read()
    writer.close()
    assert closed == b""


async def test_an_unknown_script_gets_no_commands(server: AgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_network_script: other\n\n")
    answer = await reader.read()
    writer.close()
    assert answer == b""


async def test_start_interception_serves_fastagi_in_predial_mode() -> None:
    import contextlib

    from connector.routing import start_interception

    class Adapter:
        async def lookup(self, phone: str) -> Contact | None:
            return await lookup(phone)

    settings = InterceptionSettings(enabled=True, agi_port=0)
    async with contextlib.AsyncExitStack() as stack:
        server = await start_interception(stack, settings, {"crm": Adapter()}, RecordingPbx())
        assert isinstance(server, AgiServer)
        assert (await asterisk(server.port, KNOWN))["CRM_RESPONSIBLE"] == "203"


async def test_start_interception_in_parallel_mode_returns_the_interceptor() -> None:
    import contextlib

    from connector.routing import ParallelInterceptor, start_interception

    settings = InterceptionSettings(enabled=True, mode="parallel")
    async with contextlib.AsyncExitStack() as stack:
        started = await start_interception(stack, settings, {}, RecordingPbx())
        assert isinstance(started, ParallelInterceptor)

"""Bitrix24's own telephony rules, as the fake enforces them and the client maps them."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.errors import PortalCallNotFoundError
from connector.crm import MemoryState
from connector.errors import PermanentError, TransientError
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.test_client import oauth_client

REGISTER = "telephony.externalcall.register"
START = "2026-11-20T12:00:00+03:00"


def client_for(portal: FakeBitrix24, session: aiohttp.ClientSession) -> Bitrix24Client:
    """An application's client: register and finish work only in an application's context."""
    return oauth_client(portal, session, MemoryState())


def registration(external_id: str, **extra: object) -> dict[str, object]:
    return {"USER_ID": 11, "PHONE_NUMBER": "79161234567", "TYPE": 2, "CALL_START_DATE": START,
            "EXTERNAL_CALL_ID": external_id, **extra}  # fmt: skip


async def test_same_external_call_id_within_30_minutes_gives_the_same_call(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    first = await client.call(REGISTER, registration("1700000000.1"))
    again = await client.call(REGISTER, registration("1700000000.1"))
    assert first["CALL_ID"] == again["CALL_ID"]


async def test_two_concurrent_calls_from_one_number_stay_apart_with_their_own_ids(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    first = await client.call(REGISTER, registration("1700000000.1"))
    second = await client.call(REGISTER, registration("1700000000.2"))
    assert first["CALL_ID"] != second["CALL_ID"]


async def test_finish_before_register_is_call_not_found(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    with pytest.raises(PortalCallNotFoundError):
        await client.call("telephony.externalcall.finish", {"CALL_ID": "externalCall.nope", "USER_ID": 11})


async def test_finishing_twice_is_call_not_found(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    call_id = (await client.call(REGISTER, registration("1.1")))["CALL_ID"]
    await client.call("telephony.externalcall.finish", {"CALL_ID": call_id, "USER_ID": 11, "DURATION": 5})
    with pytest.raises(PortalCallNotFoundError):
        await client.call("telephony.externalcall.finish", {"CALL_ID": call_id, "USER_ID": 11, "DURATION": 5})


async def test_attach_before_finish_is_retried_later(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    call_id = (await client.call(REGISTER, registration("1.1")))["CALL_ID"]
    params = {"CALL_ID": call_id, "FILENAME": "a.mp3", "FILE_CONTENT": "SUQz"}
    with pytest.raises(TransientError, match="not finished yet"):
        await client.call("telephony.externalCall.attachRecord", params)


async def test_start_date_without_offset_is_refused(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    with pytest.raises(PermanentError, match="ISO-8601"):
        await client.call(REGISTER, registration("1.1", CALL_START_DATE="2026-11-20T12:00:00"))


async def test_inactive_user_cannot_take_a_call(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    portal.add_user(14, "204", active=False)
    client = client_for(portal, session)
    with pytest.raises(PermanentError, match="not active"):
        await client.call(REGISTER, registration("1.1", USER_ID=14))


async def test_duplicates_of_an_unknown_number_are_an_empty_list(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = client_for(portal, session)
    found = await client.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["79990000000"]})
    assert found == []

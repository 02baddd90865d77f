"""The SMSC.ru client against the fake: auth, limits, bad numbers, money, balance, statuses."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest

from adapters.builtin.sms_provider import (
    Delivery,
    SmsAuthError,
    SmsFundsError,
    SmsRejected,
    SmsUnsure,
)
from adapters.builtin.sms_smsc import SmscProvider
from connector.settings_schema import Secret
from tests.fakes.smsc import FakeSmsc
from tests.unit.sms.conftest import VirtualClock, sms_settings

TEXT = "Здравствуйте! Ваш заказ готов."


async def test_a_cyrillic_sms_arrives_intact_with_our_id_cost_and_balance(
    provider: SmscProvider, smsc: FakeSmsc
) -> None:
    accepted = await provider.send(41, "+79161234567", TEXT, "Shop")
    assert (accepted.segments, accepted.cost, accepted.balance) == (1, 2.5, 97.5)
    taken = smsc.messages[(41, "79161234567")]
    assert (taken.text, taken.sender) == (TEXT, "Shop")
    assert smsc.requests[-1][1]["psw"] == smsc.password  # POSTed: the form, not the URL


async def test_wrong_password_is_an_auth_error(smsc: FakeSmsc) -> None:
    settings = dataclasses.replace(sms_settings(smsc), password=Secret("wrong"))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SmsAuthError) as caught:
            await SmscProvider(session, settings).send(1, "+79161234567", TEXT, "")
    assert caught.value.code == 2 and smsc.sends == []


async def test_an_api_key_signs_in_instead_of_login_and_password(smsc: FakeSmsc) -> None:
    smsc.apikey = "k-123"
    settings = dataclasses.replace(sms_settings(smsc), login="", password=Secret(""), api_key=Secret("k-123"))
    async with aiohttp.ClientSession() as session:
        assert await SmscProvider(session, settings).balance() == 100.0


@pytest.mark.parametrize(
    ("phone", "sender", "code"),
    [("12345", "Shop", 7), ("+79990000000", "Shop", 8), ("+79161234567", "Unregistered", 6)],
)
async def test_a_bad_number_or_sender_is_rejected_with_the_providers_code(
    provider: SmscProvider, smsc: FakeSmsc, phone: str, sender: str, code: int
) -> None:
    smsc.undeliverable.add("79990000000")
    with pytest.raises(SmsRejected) as caught:
        await provider.send(5, phone, TEXT, sender)
    assert caught.value.code == code and smsc.sends == []


async def test_an_empty_account_is_a_funds_error(provider: SmscProvider, smsc: FakeSmsc) -> None:
    smsc.balance = 1.0
    with pytest.raises(SmsFundsError):
        await provider.send(6, "+79161234567", TEXT, "Shop")
    assert smsc.sends == [] and await provider.balance() == 1.0


async def test_the_same_send_twice_within_a_minute_is_refused_as_unsure(
    provider: SmscProvider, smsc: FakeSmsc, clock: VirtualClock
) -> None:
    await provider.send(7, "+79161234567", TEXT, "Shop")
    with pytest.raises(SmsUnsure) as caught:  # "may have gone": the sender asks the status
        await provider.send(7, "+79161234567", TEXT, "Shop")
    assert caught.value.code == 9 and smsc.sent_to("+79161234567") == 1
    clock.now += 61
    await provider.send(7, "+79161234567", TEXT, "Shop")
    assert smsc.sent_to("+79161234567") == 2


async def test_more_than_fifteen_requests_at_once_hit_the_limit(
    provider: SmscProvider, smsc: FakeSmsc
) -> None:
    smsc.hold = asyncio.Event()
    first = [asyncio.create_task(provider.send(i, f"+7916000{i:04d}", TEXT, "Shop")) for i in range(1, 16)]
    await asyncio.wait_for(smsc.wait_in_flight(15), 10)  # the fifteen reach the server and wait there
    with pytest.raises(SmsUnsure) as caught:
        await provider.send(99, "+79160009999", TEXT, "Shop")
    smsc.hold.set()
    await asyncio.gather(*first)
    assert caught.value.code == 9 and len(smsc.sends) == 15


async def test_statuses_follow_the_message_and_unknown_ids_are_not_found(
    provider: SmscProvider, smsc: FakeSmsc
) -> None:
    assert (await provider.status(8, "+79161234567")).delivery is None
    await provider.send(8, "+79161234567", TEXT, "Shop")
    assert (await provider.status(8, "+79161234567")).delivery is Delivery.SENT
    smsc.deliver(8, "+79161234567", 1)
    assert (await provider.status(8, "+79161234567")).delivery is Delivery.DELIVERED
    smsc.deliver(8, "+79161234567", 22)
    report = await provider.status(8, "+79161234567")
    assert (report.delivery, report.text) == (Delivery.FAILED, "неверный номер")


async def test_a_sixth_status_question_a_minute_and_an_eleventh_balance_are_refused(
    provider: SmscProvider, smsc: FakeSmsc, clock: VirtualClock
) -> None:
    await provider.send(9, "+79161234567", TEXT, "Shop")
    for _ in range(5):
        await provider.status(9, "+79161234567")
    with pytest.raises(SmsUnsure):
        await provider.status(9, "+79161234567")
    for _ in range(10):
        await provider.balance()
    with pytest.raises(SmsUnsure):
        await provider.balance()
    clock.now += 61
    assert await provider.balance() == 97.5


async def test_a_quote_prices_without_sending(provider: SmscProvider, smsc: FakeSmsc) -> None:
    quote = await provider.quote(["+79161234567", "+79161234568"], "я" * 71, "Shop")
    assert (quote.cost, quote.segments) == (10.0, 4) and smsc.sends == []


async def test_a_server_error_or_silence_is_unsure(smsc: FakeSmsc) -> None:
    settings = dataclasses.replace(sms_settings(smsc), base_url=smsc.url + "/nowhere")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SmsUnsure):
            await SmscProvider(session, settings).send(1, "+79161234567", TEXT, "Shop")

"""The missed-call SMS: a template, in the company's working hours, once per number per day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from adapters.builtin.adapter import BuiltinAdapter
from adapters.builtin.sms_settings import MissedCallSms
from adapters.builtin.store import Store
from connector.crm import AdapterContext, MemoryState
from tests.fakes.smsc import FakeSmsc
from tests.unit.builtin.helpers import T0, make_call
from tests.unit.sms.conftest import sms_settings

MOBILE = "+79161234567"


@pytest.fixture
async def adapter(store: Store, smsc: FakeSmsc) -> AsyncIterator[BuiltinAdapter]:
    rule = MissedCallSms(enabled=True, template="Мы пропустили ваш звонок. {company}", company="Окна-М")
    await store.db.write("INSERT INTO settings (key, value) VALUES ('timezone', 'Europe/Moscow')")
    async with aiohttp.ClientSession() as session:
        yield BuiltinAdapter(
            AdapterContext("builtin", session, MemoryState()), store, sms=sms_settings(smsc, missed_call=rule)
        )


async def queued(store: Store) -> list[tuple[str, str, str]]:
    rows = await store.db.fetch_all("SELECT phone, text, origin FROM sms_messages ORDER BY id")
    return [(r["phone"], r["text"], r["origin"]) for r in rows]


async def test_a_missed_call_in_working_hours_gets_one_sms_a_day(
    adapter: BuiltinAdapter, store: Store
) -> None:
    await adapter.log_call(make_call("1.1", MOBILE, answered_by=None, start=T0))  # 13:00 in Moscow
    await adapter.log_call(make_call("1.1", MOBILE, answered_by=None, start=T0))  # delivered again
    await adapter.log_call(make_call("1.2", MOBILE, answered_by=None, start=T0 + timedelta(hours=2)))
    assert await queued(store) == [(MOBILE, "Мы пропустили ваш звонок. Окна-М", "missed-call")]
    await adapter.log_call(make_call("1.3", MOBILE, answered_by=None, start=T0 + timedelta(days=1)))
    assert len(await queued(store)) == 2


@pytest.mark.parametrize(
    ("phone", "answered_by", "hour"),
    [
        (MOBILE, None, 19),  # 22:00 in Moscow: after hours
        (MOBILE, "202", 10),  # answered
        ("+74951234567", None, 10),  # a landline cannot take an SMS
        ("+79160000000", None, 10),  # opted out
    ],
)
async def test_no_sms_after_hours_for_answered_calls_landlines_or_opted_out_numbers(
    adapter: BuiltinAdapter, store: Store, phone: str, answered_by: str | None, hour: int
) -> None:
    await store.sms.opt_out("+79160000000", "")
    start = T0.replace(hour=hour)
    await adapter.log_call(make_call("2.1", phone, answered_by=answered_by, start=start))
    assert await queued(store) == []

"""The sender: mailings paced to the provider, restarts without duplicates, opt-out, money, statuses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.builtin.sms_sender import SmsSender
from adapters.builtin.sms_smsc import SmscProvider
from adapters.builtin.store import Store
from tests.fakes.smsc import FakeSmsc
from tests.unit.sms.conftest import VirtualClock, sms_settings

PHONES = [f"+7916555000{i}" for i in range(6)]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def sender_for(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock, rate: float = 4.0
) -> SmsSender:
    settings = sms_settings(smsc, rate=rate)
    return SmsSender(store.sms, SmscProvider(session, settings), settings, clock=clock, sleep=clock.sleep)


async def mailing(store: Store, phones: list[str], text: str = "Скидка 30% до пятницы") -> int:
    recipients = []
    for phone in phones:
        client = await store.clients.create(f"Клиент {phone[-2:]}", [phone])
        recipients.append((client, phone))
    row = await store.sms.create_mailing(
        {
            "name": "Акция",
            "text": text,
            "sender": "Shop",
            "scheduled_at": "2000-01-01T00:00:00Z",
            "audience": {},
            "segments": 1,
            "estimate": None,
            "author_id": None,
        },
        recipients,
    )
    return int(row["id"])


async def statuses(store: Store, mailing_id: int) -> dict[str, str]:
    rows = await store.db.fetch_all(
        "SELECT phone, status FROM sms_messages WHERE mailing_id = ? ORDER BY id", (mailing_id,)
    )
    return {r["phone"]: r["status"] for r in rows}


async def test_a_mailing_goes_out_at_the_configured_pace(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    mailing_id = await mailing(store, PHONES)
    await sender_for(store, smsc, session, clock, rate=4.0).step()
    gaps = [b.at - a.at for a, b in zip(smsc.sends, smsc.sends[1:], strict=False)]
    assert len(smsc.sends) == 6 and min(gaps) >= 0.25 - 1e-9
    assert set((await statuses(store, mailing_id)).values()) == {"sent"}
    assert (await store.sms.mailing(mailing_id))["state"] == "done"


async def test_a_restart_mid_request_resumes_and_sends_nobody_anything_twice(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    mailing_id = await mailing(store, PHONES[:4])
    # a sender killed while the provider held its first request (taken, the answer never read)
    smsc.hold = asyncio.Event()
    first = asyncio.create_task(sender_for(store, smsc, session, clock).run())
    await asyncio.wait_for(smsc.held.wait(), 10)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    smsc.hold.set()
    # and one killed right after claiming the last row, before its request went out
    last = await store.db.scalar("SELECT MAX(id) FROM sms_messages WHERE mailing_id = ?", (mailing_id,))
    assert await store.sms.claim(int(last), 30.0)
    assert list((await statuses(store, mailing_id)).values()).count("sending") == 2

    restarted = sender_for(store, smsc, session, clock)
    assert await restarted.recover() == 2
    await restarted.step()
    assert [smsc.sent_to(p) for p in PHONES[:4]] == [1, 1, 1, 1]
    assert set((await statuses(store, mailing_id)).values()) == {"sent"}


async def test_an_opted_out_number_is_skipped_even_after_the_mailing_was_made(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    mailing_id = await mailing(store, PHONES[:3])
    await store.sms.opt_out(PHONES[1], "просил не писать")
    await sender_for(store, smsc, session, clock).step()
    assert await statuses(store, mailing_id) == {PHONES[0]: "sent", PHONES[1]: "skipped", PHONES[2]: "sent"}
    assert smsc.sent_to(PHONES[1]) == 0


async def test_an_empty_account_pauses_the_mailing_and_resuming_finishes_it(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    smsc.balance = 3.0  # one SMS at 2.50
    mailing_id = await mailing(store, PHONES[:3])
    sender = sender_for(store, smsc, session, clock)
    await sender.step()
    paused = await store.sms.mailing(mailing_id)
    assert paused["state"] == "paused" and "недостаточно средств" in paused["reason"]
    assert paused["counts"] == {"sent": 1, "queued": 2} and "недостаточно средств" in sender.problem
    smsc.balance = 100.0
    await store.sms.set_state(mailing_id, "active")
    assert not await sender.step()  # resting after the refusal
    clock.now += 301
    await sender.step()
    assert set((await statuses(store, mailing_id)).values()) == {"sent"} and len(smsc.sends) == 3
    assert sender.problem == ""


async def test_statuses_are_asked_and_recorded_until_final(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    mailing_id = await mailing(store, PHONES[:2])
    sender = sender_for(store, smsc, session, clock)
    await sender.step()
    ids = [m.id for m in smsc.sends]
    smsc.deliver(ids[0], PHONES[0], 1)
    smsc.deliver(ids[1], PHONES[1], 22)
    await store.db.write("UPDATE sms_messages SET check_at = '2000-01-01T00:00:00Z'")  # time passes
    await sender.step()
    rows = await store.db.fetch_all(
        "SELECT status, detail, check_at FROM sms_messages WHERE mailing_id = ? ORDER BY id", (mailing_id,)
    )
    assert [(r["status"], r["detail"], r["check_at"]) for r in rows] == [
        ("delivered", "доставлено", None),
        ("failed", "неверный номер", None),
    ]


async def test_a_sender_started_before_the_database_opens_waits_for_it_quietly(
    store: Store, smsc: FakeSmsc, session: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    """The daemon starts the web app (and so the sender) before it opens the CRM's database."""
    mailing_id = await mailing(store, PHONES[:1])
    await store.db.close()
    with capture_logs() as logs:
        task = asyncio.create_task(sender_for(store, smsc, session, clock).run(idle=0.05))
        try:
            await asyncio.sleep(0.2)
            before = len(smsc.sends)
            await store.db.open()
            async with asyncio.timeout(10):
                # the store has no change event to await
                while (await statuses(store, mailing_id))[PHONES[0]] != "sent":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert (before, smsc.sent_to(PHONES[0])) == (0, 1)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == []

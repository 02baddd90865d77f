"""IMAP IDLE against the real Dovecot: a delivered letter is fetched at once, without IDLE the CRM polls.

The worker here polls once an hour, so a letter that shows up in the CRM came through IDLE; the
waits are for events (the worker waiting in IDLE, a letter saved), bounded only against a hang.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.builtin.mail_transport import idle_wait
from adapters.builtin.mail_worker import MailWorker
from adapters.builtin.store import Store
from tests.unit.mail.servers import Dovecot, dovecot_server

HANG = 60.0  # only against a hang: every wait below is for an event
NO_IDLE = "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE\n"


@pytest.fixture(scope="module")
def plain_dovecot() -> Iterator[Dovecot]:
    """Dovecot that does not advertise IDLE once signed in."""
    with dovecot_server(NO_IDLE) as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """The CRM's store on SQLite in tmp_path."""
    opened = await Store.open(tmp_path / "crm.db")
    try:
        yield opened
    finally:
        await opened.close()


def _letter(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ольга <olga@romashka.ru>"
    msg["To"] = "inbox@company.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@romashka.ru>"
    msg.set_content("Добрый день!")
    return msg


async def _mailbox(store: Store, server: Dovecot) -> dict[str, Any]:
    folder = server.new_folder(f"idle-{uuid.uuid4().hex[:8]}")
    box = await store.mail.add_mailbox({
        "address": server.user, "login": server.user, "secret": server.password, "folder": folder,
        "imap_host": "127.0.0.1", "imap_port": server.port, "imap_security": "none",
        "smtp_host": "127.0.0.1", "smtp_port": 1, "smtp_security": "none",
    })  # fmt: skip
    return dict(box)


def _on_saved(store: Store) -> asyncio.Event:
    """An event set when the CRM keeps an incoming letter."""
    saved, keep = asyncio.Event(), store.mail.save_incoming

    async def save(*args: Any, **kwargs: Any) -> int | None:
        result = await keep(*args, **kwargs)
        saved.set()
        return result

    store.mail.save_incoming = save  # type: ignore[method-assign]
    return saved


async def _subjects(store: Store) -> list[str]:
    rows = await store.db.fetch_all("SELECT subject FROM mail_messages WHERE direction = 'in' ORDER BY id")
    return [r["subject"] for r in rows]


async def test_a_letter_delivered_while_the_worker_waits_in_idle_is_fetched_without_a_poll(
    store: Store, dovecot: Dovecot
) -> None:
    box = await _mailbox(store, dovecot)
    worker = MailWorker(store.mail, poll_seconds=3600)
    worker.start()
    try:
        await asyncio.wait_for(worker.idling(box["id"]).wait(), HANG)
        saved = _on_saved(store)
        await asyncio.to_thread(dovecot.deliver, _letter("Счёт на оплату"), box["folder"])
        await asyncio.wait_for(saved.wait(), HANG)
        assert await _subjects(store) == ["Счёт на оплату"]
        # and it goes back into IDLE for the next one
        await asyncio.wait_for(worker.idling(box["id"]).wait(), HANG)
    finally:
        await asyncio.wait_for(worker.stop(), HANG)  # a stop does not wait out the IDLE


async def test_a_server_without_idle_is_still_polled(store: Store, plain_dovecot: Dovecot) -> None:
    box = await _mailbox(store, plain_dovecot)
    worker = MailWorker(store.mail, poll_seconds=0.2)
    with capture_logs() as logs:
        worker.start()
        try:
            saved = _on_saved(store)
            await asyncio.to_thread(plain_dovecot.deliver, _letter("Договор"), box["folder"])
            await asyncio.wait_for(saved.wait(), HANG)
            assert await _subjects(store) == ["Договор"]
            assert not worker.idling(box["id"]).is_set()
        finally:
            await asyncio.wait_for(worker.stop(), HANG)
    assert [e["mailbox"] for e in logs if e["event"] == "mail.idle_unsupported"] == [box["id"]]


async def test_an_idle_session_the_server_drops_reconnects_and_still_brings_letters(
    store: Store, dovecot: Dovecot
) -> None:
    box = await _mailbox(store, dovecot)
    loop, sessions = asyncio.get_running_loop(), asyncio.Queue[int]()
    started = 0

    def counted(*args: Any, on_idle: Any, **kwargs: Any) -> bool:
        """The real idle_wait, telling the test each time a session is waiting in IDLE."""

        def waiting() -> None:
            nonlocal started
            started += 1
            loop.call_soon_threadsafe(sessions.put_nowait, started)
            on_idle()

        return idle_wait(*args, on_idle=waiting, **kwargs)

    worker = MailWorker(store.mail, poll_seconds=3600, idler=counted)
    with capture_logs() as logs:
        worker.start()
        try:
            assert await asyncio.wait_for(sessions.get(), HANG) == 1
            await asyncio.to_thread(dovecot.kick)
            assert await asyncio.wait_for(sessions.get(), HANG) == 2  # back in IDLE after the backoff
            saved = _on_saved(store)
            await asyncio.to_thread(dovecot.deliver, _letter("После обрыва"), box["folder"])
            await asyncio.wait_for(saved.wait(), HANG)
            assert await _subjects(store) == ["После обрыва"]
        finally:
            await asyncio.wait_for(worker.stop(), HANG)
    assert [e["mailbox"] for e in logs if e["event"] == "mail.idle_failed"] == [box["id"]]

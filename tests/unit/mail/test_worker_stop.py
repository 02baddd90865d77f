"""The mail worker's staged stop: no new letter is claimed, the one being sent finishes, then the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.builtin.mail_transport import Account
from adapters.builtin.mail_worker import MailWorker
from adapters.builtin.store import Store
from tests.unit.mail.test_mailbox import _queue

HANG = 60.0  # only against a hang


async def test_a_stop_lets_the_letter_being_sent_finish_and_claims_no_other(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "crm.db")
    sending, release, sent_to = asyncio.Event(), asyncio.Event(), []

    async def sender(_account: Account, _raw: bytes, _from: str, recipients: list[str]) -> str:
        sending.set()
        await release.wait()
        sent_to.extend(recipients)
        return ""

    worker = MailWorker(store.mail, sender=sender, idler=None, poll_seconds=3600)
    try:
        box = dict(await store.mail.add_mailbox({
            "address": "inbox@company.test", "login": "inbox@company.test", "secret": "x",
            "imap_host": "127.0.0.1", "imap_port": 1, "imap_security": "none",
            "smtp_host": "127.0.0.1", "smtp_port": 1, "smtp_security": "none",
        }))  # fmt: skip
        first = await _queue(store, box, "olga@newco.ru")
        second = await _queue(store, box, "ivan@newco.ru")
        worker.start()
        await asyncio.wait_for(sending.wait(), HANG)
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0)  # let the stop begin before the send is released
        release.set()
        await asyncio.wait_for(stopping, HANG)
        states = await store.db.fetch_all("SELECT message_id, state FROM mail_outgoing ORDER BY message_id")
        assert {r["message_id"]: r["state"] for r in states} == {first: "sent", second: "queued"}
        assert sent_to == ["olga@newco.ru"]
    finally:
        await store.close()

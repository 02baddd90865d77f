"""Mailbox figures: fetching from a real Dovecot and sending through the queue to a real SMTP server.

1. Fetch: N letters (Russian text, a 20 KB file each) delivered to Dovecot, then one
   `MailWorker.check` (IMAP in a thread, parse, match to a client, store, files on disk):
   letters/s, against a baseline in the same run: the same letters fetched raw with imaplib
   (no parsing, no database).
2. Send: N letters queued through `Mail.enqueue` and sent one by one by the worker to aiosmtpd:
   letters/s, against the same letters sent straight with aiosmtplib (no queue).

Run: `python -m bench.mail` (or `python -m bench mail`). Needs dovecot-imapd (.ci/system-deps.sh).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from adapters.builtin.mail_compose import Draft, build_message, message_id_of
from adapters.builtin.mail_worker import MailWorker
from adapters.builtin.store import Store
from connector import logs
from tests.unit.mail.servers import Dovecot, Smtp, dovecot_server, smtp_server

N = 300
FILE = bytes(range(256)) * 80  # 20 KB


def _letter(n: int, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Клиент {n} <client{n % 50}@romashka.ru>"
    msg["To"] = to
    msg["Subject"] = f"Заказ № {n}: счёт и акт"
    msg["Message-ID"] = f"<bench{n}@romashka.ru>"
    msg.set_content("Добрый день!\n" + "Пришлите, пожалуйста, счёт на оплату. " * 20)
    msg.add_attachment(FILE, maintype="application", subtype="pdf", filename=f"заказ {n}.pdf")
    return msg.as_bytes()


def _raw_fetch(dovecot: Dovecot) -> int:
    conn = dovecot.imap()
    conn.select("INBOX", readonly=True)
    _typ, data = conn.uid("SEARCH", "ALL")
    got = 0
    for uid in (data[0] or b"").split():
        _typ, parts = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
        got += any(isinstance(p, tuple) for p in parts)
    conn.logout()
    return got


def _uidvalidity(dovecot: Dovecot) -> int:
    conn = dovecot.imap()
    _typ, data = conn.status("INBOX", "(UIDVALIDITY)")
    conn.logout()
    return int(str(data[0]).rsplit(" ", 1)[-1].strip(")'"))


async def _fetch(dovecot: Dovecot, tmp: Path) -> tuple[float, float]:
    for n in range(N):
        dovecot.deliver(_letter(n, dovecot.user))
    start = time.perf_counter()
    raw = await asyncio.to_thread(_raw_fetch, dovecot)
    baseline = time.perf_counter() - start
    store = await Store.open(tmp / "fetch.db")
    for k in range(50):
        await store.clients.create(f"Клиент {k}", [], email=f"client{k}@romashka.ru")
    box = await store.mail.add_mailbox({
        "address": dovecot.user, "login": dovecot.user, "secret": dovecot.password, "imap_host": "127.0.0.1",
        "imap_port": dovecot.port, "imap_security": "none", "smtp_host": "127.0.0.1", "smtp_port": 1,
        "smtp_security": "none",
    })  # fmt: skip
    # As if connected before the letters came: all N are new (a first connection takes the latest 100).
    await store.mail.record_check(box["id"], "", uidvalidity=_uidvalidity(dovecot), last_uid=0)
    worker = MailWorker(store.mail)
    start = time.perf_counter()
    new = await worker.check(box["id"])
    took = time.perf_counter() - start
    matched = await store.db.scalar("SELECT COUNT(*) FROM mail_messages WHERE client_id IS NOT NULL")
    await store.close()
    assert raw == N and new == N and matched == N, (raw, new, matched)
    return N / took, N / baseline


async def _send(smtp: Smtp, tmp: Path) -> tuple[float, float]:
    store = await Store.open(tmp / "send.db")
    box = await store.mail.add_mailbox({
        "address": smtp.user, "login": smtp.user, "secret": smtp.password, "imap_host": "127.0.0.1",
        "imap_port": 1, "imap_security": "none", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
        "smtp_security": "none",
    })  # fmt: skip
    raws = []
    for n in range(N):
        draft = Draft(to=(f"client{n}@romashka.ru",), subject=f"Счёт № {n}", body="Счёт во вложении. " * 20)
        msg = build_message(draft, sender=smtp.user, sender_name="Анна", domain="company.test")
        raws.append(msg.as_bytes())
        letter = {
            "mailbox_id": box["id"], "message_id": message_id_of(msg), "thread": message_id_of(msg),
            "in_reply_to": "", "refs": "", "from_name": "Анна", "to_addrs": draft.to[0], "cc_addrs": "",
            "subject": draft.subject, "body": draft.body, "client_id": None, "employee_id": None,
            "attachments": (), "stored": [],
        }  # fmt: skip
        await store.mail.enqueue(letter, msg.as_bytes().decode("ascii"), smtp.user, list(draft.to))
    worker = MailWorker(store.mail)
    start = time.perf_counter()
    while await worker.send_due():
        pass
    took = time.perf_counter() - start
    await store.close()
    start = time.perf_counter()
    for n, raw in enumerate(raws):
        await aiosmtplib.send(raw, sender=smtp.user, recipients=[f"client{n}@romashka.ru"],
                              hostname="127.0.0.1", port=smtp.port, username=smtp.user,
                              password=smtp.password, start_tls=False, timeout=30)  # fmt: skip
    baseline = time.perf_counter() - start
    assert len(smtp.recorder.received) == 2 * N
    return N / took, N / baseline


async def _run() -> None:
    with tempfile.TemporaryDirectory() as tmp, dovecot_server() as dovecot, smtp_server() as smtp:
        fetched, raw = await _fetch(dovecot, Path(tmp))
        print(f"fetch: {fetched:8.1f} letters/s through the worker (parse, match, store, files)")
        print(f"       {raw:8.1f} letters/s raw imaplib FETCH (baseline, same run)")
        sent, direct = await _send(smtp, Path(tmp))
        print(f"send:  {sent:8.1f} letters/s through the queue (claim, SMTP session, mark sent)")
        print(f"       {direct:8.1f} letters/s straight aiosmtplib.send (baseline, same run)")


def main() -> None:
    """Print the figures."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session notes
    logs.configure("warning")
    asyncio.run(_run())


if __name__ == "__main__":
    main()

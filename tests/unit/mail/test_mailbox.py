"""The mailbox end to end: Dovecot (IMAP) and aiosmtpd (SMTP) on loopback, the CRM's real HTTP API.

Letters are put into Dovecot with IMAP APPEND as a mail server would deliver them; what the CRM
sends is what aiosmtpd recorded, parsed back. Each test has its own Dovecot folder.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.builtin.mail_compose import Draft, build_message, message_id_of
from adapters.builtin.mail_store import LEASE_SECONDS, MAX_ATTEMPTS
from adapters.builtin.mail_worker import MailWorker
from adapters.builtin.routes_mail import WORKER_KEY
from adapters.builtin.store import Store
from tests.unit.builtin.helpers import CrmServer
from tests.unit.mail.servers import QUIET_AUTH, Dovecot, Smtp, free_port

pytestmark = QUIET_AUTH
ADMIN, EMPLOYEE, OTHER = "200", "202", "203"
_folders = itertools.count()


async def api(http: aiohttp.ClientSession, server: CrmServer, method: str, path: str,
              body: Any = None, *, ext: str = EMPLOYEE) -> tuple[int, Any]:  # fmt: skip
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, (await r.json() if r.content_type.endswith("json") else await r.read())


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (bounded) for something the worker does in the background."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def connect(http: aiohttp.ClientSession, server: CrmServer, dovecot: Dovecot, smtp_port: int,
                  **extra: Any) -> dict[str, Any]:  # fmt: skip
    folder = dovecot.new_folder(f"t{next(_folders)}-{uuid.uuid4().hex[:6]}")
    body = {
        "address": dovecot.user, "password": dovecot.password,
        "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none", "folder": folder,
        **extra,
    }  # fmt: skip
    if "password_env" in extra or "password_file" in extra:
        del body["password"]
    status, box = await api(http, server, "POST", "/mailboxes", body, ext=ADMIN)
    assert status == 201, box
    return box


def letter(sender: str, subject: str, text: str, *, msgid: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "inbox@company.test"
    msg["Subject"] = subject
    msg["Message-ID"] = msgid or f"<{uuid.uuid4().hex}@romashka.ru>"
    msg["Date"] = "Thu, 03 Dec 2026 10:15:00 +0300"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


async def check(http: aiohttp.ClientSession, server: CrmServer, box: dict[str, Any]) -> dict[str, Any]:
    status, result = await api(http, server, "POST", f"/mailboxes/{box['id']}/check")
    assert status == 200, result
    return result


async def test_a_clients_letter_reaches_their_card_with_its_file_and_stays_unread(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot
) -> None:
    client = await server.store.clients.create("Иван Петров", ["+79161234567"], email="ivan@romashka.ru")
    box = await connect(http, server, dovecot, free_port())
    msg = letter("Иван Петров <Ivan@Romashka.ru>", "Счёт на оплату № 17", "Добрый день! Счёт во вложении.")
    msg.add_attachment("итого;100\n".encode(), maintype="text", subtype="csv", filename="счёт.csv")
    dovecot.deliver(msg, box["folder"])

    await check(http, server, box)  # (the worker may have fetched it already: connecting asks for a round)
    assert (await check(http, server, box))["new"] == 0  # fetched once, kept once

    status, feed = await api(http, server, "GET", f"/clients/{client}/feed?kind=mail")
    assert status == 200
    [item] = feed["items"]
    assert (item["text"], item["who"], item["extra"]) == ("Счёт на оплату № 17", "Иван Петров", "in received")
    status, full = await api(http, server, "GET", f"/mail/{item['ref']}")
    assert full["body"] == "Добрый день! Счёт во вложении." and full["client_id"] == client
    [file] = full["attachments"]
    async with http.get(
        f"{server.url}/api/crm/mail/attachments/{file['id']}", headers=server.headers(OTHER)
    ) as r:
        assert r.status == 200 and await r.read() == "итого;100\n".encode()
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert "attachment" in r.headers["Content-Disposition"]
    assert all(b"\\Seen" not in f for f in dovecot.flags(box["folder"]))


async def test_an_unknown_sender_becomes_a_client_with_all_their_letters(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot
) -> None:
    box = await connect(http, server, dovecot, free_port())
    for n in (1, 2):
        dovecot.deliver(
            letter("Ольга Смирнова <olga@newco.ru>", f"Вопрос {n}", "Сколько стоит?"), box["folder"]
        )
    dovecot.deliver(letter("spam@elsewhere.ru", "Реклама", "…"), box["folder"])
    await check(http, server, box)

    status, unmatched = await api(http, server, "GET", "/mail?unmatched=1")
    assert status == 200 and unmatched["total"] == 3
    first = next(i for i in unmatched["items"] if i["subject"] == "Вопрос 1")
    status, client = await api(http, server, "POST", f"/mail/{first['id']}/client", {})
    assert status == 201 and client["name"] == "Ольга Смирнова" and client["emails"] == ["olga@newco.ru"]
    status, feed = await api(http, server, "GET", f"/clients/{client['id']}/feed?kind=mail")
    assert sorted(i["text"] for i in feed["items"]) == ["Вопрос 1", "Вопрос 2"]
    status, left = await api(http, server, "GET", "/mail?unmatched=1")
    assert [i["subject"] for i in left["items"]] == ["Реклама"]

    # An address typed into an existing card later brings that sender's letters onto it.
    other = await server.store.clients.create("Пётр Рекламщик", [], responsible_id=None)
    status, _ = await api(
        http, server, "PATCH", f"/clients/{other}", {"emails": ["Spam@Elsewhere.ru"]}, ext=ADMIN
    )
    assert status == 200
    _, feed = await api(http, server, "GET", f"/clients/{other}/feed?kind=mail")
    assert [i["text"] for i in feed["items"]] == ["Реклама"]
    assert (await api(http, server, "GET", "/mail?unmatched=1"))[1]["total"] == 0


async def test_a_reply_from_the_card_arrives_in_russian_with_threading_and_a_file(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot, smtp: Smtp
) -> None:
    client = await server.store.clients.create("Иван Петров", [], email="ivan@romashka.ru")
    box = await connect(http, server, dovecot, smtp.port)
    dovecot.deliver(
        letter(
            "ivan@romashka.ru",
            "Счёт № 17",
            "Когда оплатите?",
            msgid="<q17@romashka.ru>",
            References="<root@company.test>",
        ),
        box["folder"],
    )
    await check(http, server, box)
    _, feed = await api(http, server, "GET", f"/clients/{client}/feed?kind=mail")
    body = {
        "reply_to": int(feed["items"][0]["ref"]),
        "body": "Иван, добрый день! Оплатим сегодня, акт во вложении.",
        "attachments": [{"name": "акт сверки.pdf", "type": "application/pdf", "data": "JVBERi0xLjQ="}],
    }
    status, sent = await api(http, server, "POST", "/mail", body)
    assert status == 202 and sent["status"] in ("queued", "sending", "sent"), sent
    await until(lambda: _state(server, sent["id"], "sent"), "the letter to be sent")

    [got] = smtp.recorder.received
    msg = got["message"]
    assert got["to"] == ["ivan@romashka.ru"] and got["from"] == dovecot.user and got["login"] == smtp.user
    assert msg["Subject"] == "Re: Счёт № 17"
    assert msg["In-Reply-To"] == "<q17@romashka.ru>"
    assert msg["References"] == "<root@company.test> <q17@romashka.ru>"
    assert msg["Message-ID"] == sent["message_id"]
    assert msg.get_body(("plain",)).get_content().strip() == body["body"]
    [file] = list(msg.iter_attachments())
    assert file.get_filename() == "акт сверки.pdf" and file.get_content() == b"%PDF-1.4"
    _, feed = await api(http, server, "GET", f"/clients/{client}/feed?kind=mail")
    assert [i["extra"] for i in feed["items"]] == ["out sent", "in received"]
    _, full = await api(http, server, "GET", f"/mail/{sent['id']}")
    assert [t["direction"] for t in full["thread_letters"]] == ["in", "out"]


async def _state(server: CrmServer, letter_id: int, state: str) -> bool:
    found = await server.store.db.scalar("SELECT status FROM mail_messages WHERE id = ?", (letter_id,))
    return bool(found == state)


async def test_a_template_is_filled_from_the_clients_card(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot, smtp: Smtp
) -> None:
    company = await server.store.companies.create("ООО «Ромашка»")
    client = await server.store.clients.create("Иван Петров", ["+79161234567"], email="ivan@romashka.ru",
                                               company_id=company)  # fmt: skip
    await connect(http, server, dovecot, smtp.port)
    status, wrong = await api(http, server, "POST", "/mail-templates",
                              {"name": "x", "body": "{{фамилия}}"}, ext=ADMIN)  # fmt: skip
    assert status == 422 and "фамилия" in wrong["errors"][0]["message"]
    status, template = await api(http, server, "POST", "/mail-templates", {
        "name": "Коммерческое предложение", "subject": "Предложение для {{компания}}",
        "body": "Здравствуйте, {{клиент}}! Ваш телефон {{телефон}}. С уважением, {{сотрудник}}.",
    }, ext=ADMIN)  # fmt: skip
    assert status == 201
    body = {"client_id": client, "template_id": template["id"], "to": ["ivan@romashka.ru"]}
    status, sent = await api(http, server, "POST", "/mail", body)
    assert status == 202, sent
    await until(lambda: _state(server, sent["id"], "sent"), "the letter to be sent")
    msg = smtp.recorder.received[0]["message"]
    assert msg["Subject"] == "Предложение для ООО «Ромашка»"
    text = msg.get_body(("plain",)).get_content().strip()
    assert text == "Здравствуйте, Иван Петров! Ваш телефон +79161234567. С уважением, Егор Сотрудник."


async def test_a_letter_queued_while_smtp_is_down_is_sent_after_a_restart(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot, smtp: Smtp
) -> None:
    """Down → retry later with the error kept; the daemon stops mid-send → the next one sends it once."""
    down = free_port()  # nothing listens there
    box = await connect(http, server, dovecot, down)
    status, sent = await api(http, server, "POST", "/mail", {"to": ["olga@newco.ru"], "subject": "Договор",
                                                             "body": "Высылаю договор."})  # fmt: skip
    assert status == 202
    queue = "SELECT state, attempts, last_error, not_before FROM mail_outgoing WHERE message_id = ?"

    async def retried() -> bool:
        row = await server.store.db.fetch_one(queue, (sent["id"],))
        return bool(row and row["attempts"] >= 1 and row["state"] == "queued")

    await until(retried, "a failed attempt")
    row = await server.store.db.fetch_one(queue, (sent["id"],))
    assert "SMTP 127.0.0.1" in row["last_error"] and row["not_before"] > server.store.mail.clock()
    _, shown = await api(http, server, "GET", f"/mail/{sent['id']}")
    assert shown["status"] == "queued" and shown["queue"]["attempts"] == 1

    # The admin fixes the port; the retry falls due and the worker sends it, once.
    await api(http, server, "PATCH", f"/mailboxes/{box['id']}", {"smtp_port": smtp.port}, ext=ADMIN)
    await server.store.db.write("UPDATE mail_outgoing SET not_before = 0 WHERE message_id = ?", (sent["id"],))
    server.app[WORKER_KEY].queued()
    await until(lambda: _state(server, sent["id"], "sent"), "the retried letter to be sent")
    assert [r["message"]["Subject"] for r in smtp.recorder.received] == ["Договор"]


async def test_a_letter_leased_when_the_daemon_died_is_sent_after_the_restart_once(
    tmp_path: Path, smtp: Smtp
) -> None:
    clock = [1_000_000.0]
    store = await Store.open(tmp_path / "crm.db")
    store.mail.clock = lambda: clock[0]
    box = await store.mail.add_mailbox(_smtp_box(smtp))
    letter_id = await _queue(store, box)
    assert (await store.mail.claim()) is not None  # a send began ...
    await store.close()  # ... and the daemon was killed before the server answered

    store = await Store.open(tmp_path / "crm.db")
    store.mail.clock = lambda: clock[0]
    worker = MailWorker(store.mail, clock=lambda: clock[0])
    try:
        assert await worker.send_due() is False  # the lease still holds: no second copy yet
        clock[0] += LEASE_SECONDS + 1
        assert await worker.send_due() is True
        assert await worker.send_due() is False
        row = await store.db.fetch_one("SELECT state, attempts FROM mail_outgoing WHERE message_id = ?",
                                       (letter_id,))  # fmt: skip
        assert dict(row or {}) == {"state": "sent", "attempts": 2}
    finally:
        await store.close()
    assert [r["message"]["Subject"] for r in smtp.recorder.received] == ["Коммерческое предложение"]


def _smtp_box(smtp: Smtp, port: int | None = None) -> dict[str, Any]:
    return {
        "address": smtp.user, "login": smtp.user, "secret": smtp.password, "imap_host": "127.0.0.1",
        "imap_port": 1, "imap_security": "none", "smtp_host": "127.0.0.1", "smtp_port": port or smtp.port,
        "smtp_security": "none",
    }  # fmt: skip


async def _queue(store: Store, box: dict[str, Any], to: str = "olga@newco.ru") -> int:
    draft = Draft(to=(to,), subject="Коммерческое предложение", body="Цены во вложении.")
    msg = build_message(draft, sender=box["address"], sender_name="", domain="company.test")
    letter = {
        "mailbox_id": box["id"], "message_id": message_id_of(msg), "thread": message_id_of(msg),
        "in_reply_to": "", "refs": "", "from_name": "", "to_addrs": to, "cc_addrs": "",
        "subject": draft.subject, "body": draft.body, "client_id": None, "employee_id": None,
        "attachments": (), "stored": [],
    }  # fmt: skip
    return await store.mail.enqueue(letter, msg.as_bytes().decode("ascii"), box["address"], [to])


async def test_a_refused_recipient_makes_a_dead_letter_that_can_be_sent_again(
    tmp_path: Path, smtp: Smtp
) -> None:
    store = await Store.open(tmp_path / "crm.db")
    worker = MailWorker(store.mail)
    try:
        box = await store.mail.add_mailbox(_smtp_box(smtp))
        smtp.recorder.refuse["nobody@newco.ru"] = "550 5.1.1 No such user"
        letter_id = await _queue(store, box, to="nobody@newco.ru")
        assert await worker.send_due() is True
        row = await store.db.fetch_one("SELECT state, last_error FROM mail_outgoing WHERE message_id = ?",
                                       (letter_id,))  # fmt: skip
        assert row is not None and row["state"] == "dead" and "550" in row["last_error"]
        assert await store.mail.next_due() is None  # a dead letter is not retried on its own

        del smtp.recorder.refuse["nobody@newco.ru"]  # the address was fixed on the other side
        await store.mail.resend(letter_id)
        assert await worker.send_due() is True
        assert await store.db.scalar("SELECT status FROM mail_messages WHERE id = ?", (letter_id,)) == "sent"
    finally:
        await store.close()
    assert len(smtp.recorder.received) == 1


async def test_a_temporary_refusal_is_retried_later_and_tries_are_bounded(tmp_path: Path, smtp: Smtp) -> None:
    clock = [1_000_000.0]
    store = await Store.open(tmp_path / "crm.db")
    store.mail.clock = lambda: clock[0]
    worker = MailWorker(store.mail, clock=lambda: clock[0])
    try:
        box = await store.mail.add_mailbox(_smtp_box(smtp))
        letter_id = await _queue(store, box)
        smtp.recorder.fail_data.extend(["451 4.3.0 Try again later"] * MAX_ATTEMPTS)
        pauses = []
        for _ in range(MAX_ATTEMPTS):
            assert await worker.send_due() is True
            due = await store.mail.next_due()
            if due is None:
                break
            pauses.append(due - clock[0])
            assert await worker.send_due() is False  # not before its time
            clock[0] = due
        state = await store.db.fetch_one("SELECT state, attempts FROM mail_outgoing WHERE message_id = ?",
                                         (letter_id,))  # fmt: skip
        assert dict(state or {}) == {"state": "dead", "attempts": MAX_ATTEMPTS}
        assert pauses == sorted(pauses) and pauses[0] < 60 and pauses[-1] <= 3600 * 1.2
    finally:
        await store.close()
    assert smtp.recorder.received == []


async def test_the_password_is_never_returned_nor_logged(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot
) -> None:
    with capture_logs() as logs:
        box = await connect(http, server, dovecot, free_port())
        status, changed = await api(http, server, "PATCH", f"/mailboxes/{box['id']}",
                                    {"password": "wrong-secret-password"}, ext=ADMIN)  # fmt: skip
        assert status == 200
        result = await check(http, server, box)
    assert result["new"] == 0 and "IMAP не принял логин или пароль" in result["mailbox"]["status"]
    _, listed = await api(http, server, "GET", "/mailboxes", ext=EMPLOYEE)
    shown = repr([box, changed, result, listed]) + repr(logs)
    assert dovecot.password not in shown and "wrong-secret-password" not in shown
    assert listed["items"][0]["password_stored"] == 1 and "secret" not in listed["items"][0]
    assert any(e["event"] == "mail.imap_unavailable" for e in logs)


async def test_only_the_admin_connects_a_mailbox_and_known_providers_need_no_servers(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    body = {"address": "Sales@Yandex.ru", "password": "vmxkqplrtzwhfdye"}
    status, _ = await api(http, server, "POST", "/mailboxes", body, ext=EMPLOYEE)
    assert status == 403
    status, box = await api(http, server, "POST", "/mailboxes", {**body, "enabled": False}, ext=ADMIN)
    assert status == 201, box
    keys = ("address", "login", "imap_host", "imap_port", "smtp_host", "smtp_port")
    assert [box[k] for k in keys] == [
        "sales@yandex.ru", "sales@yandex.ru", "imap.yandex.ru", 993, "smtp.yandex.ru", 465]  # fmt: skip
    other = {"address": "a@unknown-host.ru", "password": "x"}
    status, problem = await api(http, server, "POST", "/mailboxes", other, ext=ADMIN)
    assert status == 422 and problem["errors"][0]["field"] == "imap_host"
    status, problem = await api(http, server, "POST", "/mail", {"to": ["a@b.ru"], "subject": "s"})
    assert status == 409 and "почта не подключена" in problem["detail"]


async def test_a_personal_mailbox_hides_its_letters_except_those_with_clients(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot
) -> None:
    owner = await server.store.employees.by_extension(EMPLOYEE)
    await server.store.clients.create("Иван Петров", [], email="ivan@romashka.ru")
    box = await connect(http, server, dovecot, free_port(), access="personal", owner_id=owner["id"])
    dovecot.deliver(letter("ivan@romashka.ru", "По договору", "…"), box["folder"])
    dovecot.deliver(letter("friend@private.ru", "Личное", "…"), box["folder"])
    await check(http, server, box)
    mine = {i["subject"] for i in (await api(http, server, "GET", "/mail"))[1]["items"]}
    theirs = {i["subject"] for i in (await api(http, server, "GET", "/mail", ext=OTHER))[1]["items"]}
    assert mine == {"По договору", "Личное"} and theirs == {"По договору"}


async def test_a_client_answering_from_another_address_lands_on_their_card_by_the_thread(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot, smtp: Smtp
) -> None:
    client = await server.store.clients.create("Иван Петров", [], email="ivan@romashka.ru")
    await connect(http, server, dovecot, smtp.port)
    status, sent = await api(http, server, "POST", "/mail", {"client_id": client, "subject": "Договор",
                                                             "body": "Высылаю договор."})  # fmt: skip
    assert status == 202 and sent["to_addrs"] == "ivan@romashka.ru"
    await until(lambda: _state(server, sent["id"], "sent"), "the letter to be sent")
    box = (await api(http, server, "GET", "/mailboxes"))[1]["items"][0]
    answer = letter("Иван (личная почта) <ivan.petrov@private.ru>", "Re: Договор", "Подписал.",
                    In_Reply_To=sent["message_id"], References=sent["message_id"])  # fmt: skip
    dovecot.deliver(answer, box["folder"])
    await check(http, server, box)
    _, feed = await api(http, server, "GET", f"/clients/{client}/feed?kind=mail")
    assert sorted(i["text"] for i in feed["items"]) == ["Re: Договор", "Договор"]


async def test_a_password_from_the_environment_or_a_file_works_and_is_never_shown(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CRM_MAIL_PASSWORD", dovecot.password)
    secret_file = tmp_path / "mail.secret"
    secret_file.write_text(dovecot.password + "\n", encoding="utf-8")
    box = await connect(http, server, dovecot, free_port(), password_env="CRM_MAIL_PASSWORD")
    for source in ({"password_env": "CRM_MAIL_PASSWORD"}, {"password_file": str(secret_file)}):
        await api(http, server, "PATCH", f"/mailboxes/{box['id']}", source, ext=ADMIN)
        dovecot.deliver(letter("olga@newco.ru", f"Пароль из {next(iter(source))}", "…"), box["folder"])
        result = await check(http, server, box)
        assert result["mailbox"]["status"] == "", result
        _, listed = await api(http, server, "GET", "/mailboxes", ext=ADMIN)
        assert dovecot.password not in repr(listed)
        assert listed["items"][0]["password_stored"] == 0
    _, letters = await api(http, server, "GET", "/mail?unmatched=1")
    assert {i["subject"] for i in letters["items"]} == {"Пароль из password_env", "Пароль из password_file"}
    monkeypatch.delenv("CRM_MAIL_PASSWORD")
    await api(
        http, server, "PATCH", f"/mailboxes/{box['id']}", {"password_env": "CRM_MAIL_PASSWORD"}, ext=ADMIN
    )
    status = (await check(http, server, box))["mailbox"]["status"]
    assert "переменная окружения CRM_MAIL_PASSWORD не задана" in status
    status, problem = await api(http, server, "POST", "/mailboxes", {"address": dovecot.user.upper(),
                                "password": "x", "imap_host": "h", "imap_port": 1, "smtp_host": "h",
                                "smtp_port": 1}, ext=ADMIN)  # fmt: skip
    assert status == 409 and "уже подключена" in problem["detail"]


async def test_files_and_letters_over_the_limits_are_kept_as_names_or_skipped_not_lost_silently(
    server: CrmServer, http: aiohttp.ClientSession, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.builtin import mail_store, mail_transport

    monkeypatch.setattr(mail_store, "MAX_ATTACHMENT_BYTES", 1000)
    monkeypatch.setattr(mail_transport, "MAX_LETTER_BYTES", 50_000)
    box = await connect(http, server, dovecot, free_port())
    with_file = letter("olga@newco.ru", "Прайс", "Прайс во вложении.")
    with_file.add_attachment(b"x" * 2000, maintype="application", subtype="pdf", filename="прайс.pdf")
    huge = letter("olga@newco.ru", "Огромное письмо", "…")
    huge.add_attachment(b"y" * 60_000, maintype="application", subtype="zip", filename="архив.zip")
    dovecot.deliver(with_file, box["folder"])
    dovecot.deliver(huge, box["folder"])
    await check(http, server, box)
    _, letters = await api(http, server, "GET", "/mail")
    subjects = {i["subject"]: i["id"] for i in letters["items"]}
    assert set(subjects) == {"Прайс", "Огромное письмо"}
    _, huge_kept = await api(http, server, "GET", f"/mail/{subjects['Огромное письмо']}")
    assert "не загружено в CRM" in huge_kept["body"] and huge_kept["attachments"] == []
    _, full = await api(http, server, "GET", f"/mail/{subjects['Прайс']}")
    [file] = full["attachments"]
    assert (file["name"], file["size"], file["stored"]) == ("прайс.pdf", 2000, 0)
    status, problem = await api(http, server, "GET", f"/mail/attachments/{file['id']}")
    assert status == 410 and "больше лимита" in problem["detail"]

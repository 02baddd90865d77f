"""Reading received letters and writing new ones, without a server: the MIME both ways."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from adapters.builtin.mail_compose import (
    Draft,
    LetterError,
    build_message,
    references,
    reply_subject,
)
from adapters.builtin.mail_parse import Attachment, parse_letter


def _raw_letter() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Иван Петров <Ivan@Romashka.RU>"
    msg["To"] = "inbox@company.test"
    msg["Subject"] = "Счёт на оплату № 17"
    msg["Message-ID"] = "<abc@romashka.ru>"
    msg["In-Reply-To"] = "<parent@company.test>"
    msg["References"] = "<root@company.test> <parent@company.test>"
    msg["Date"] = "Thu, 03 Dec 2026 10:15:00 +0300"
    msg.set_content("Добрый день!\nСчёт во вложении.", charset="utf-8")
    msg.add_alternative("<p>Добрый <b>день</b>!</p>", subtype="html")
    msg.add_attachment(
        "строка;сумма\n1;100\n".encode(), maintype="text", subtype="csv", filename="счёт 17.csv"
    )
    return msg.as_bytes(policy=policy.SMTP)


def test_a_russian_letter_is_read_with_its_thread_and_file() -> None:
    letter = parse_letter(_raw_letter(), fallback_id="<x@y>")
    assert letter.from_addr == "ivan@romashka.ru" and letter.from_name == "Иван Петров"
    assert letter.subject == "Счёт на оплату № 17"
    assert letter.body == "Добрый день!\nСчёт во вложении."
    assert letter.sent_at == "2026-12-03T07:15:00Z"
    assert letter.thread == "<root@company.test>" and letter.in_reply_to == "<parent@company.test>"
    assert [(a.name, a.ctype) for a in letter.attachments] == [("счёт 17.csv", "text/csv")]
    assert letter.attachments[0].data.decode() == "строка;сумма\n1;100\n"


def test_a_letter_with_only_html_and_no_headers_is_still_read() -> None:
    raw = b"Content-Type: text/html; charset=koi8-r\r\n\r\n" + "<div>Привет<br>мир</div>".encode("koi8-r")
    letter = parse_letter(raw, fallback_id="<uid7@crm.invalid>")
    assert letter.message_id == "<uid7@crm.invalid>" and letter.thread == "<uid7@crm.invalid>"
    assert letter.body == "Привет\nмир"
    assert letter.from_addr == "" and letter.subject == ""


def test_an_attachment_name_loses_its_path() -> None:
    msg = EmailMessage()
    msg.set_content("x")
    msg.add_attachment(b"MZ", maintype="application", subtype="octet-stream", filename="../../etc/passwd")
    letter = parse_letter(msg.as_bytes(), fallback_id="<a@b>")
    assert letter.attachments[0].name == "passwd"


def test_an_answer_carries_the_threading_headers_and_stays_seven_bit() -> None:
    draft = Draft(
        to=("ivan@romashka.ru",),
        subject=reply_subject("Счёт на оплату № 17"),
        body="Спасибо, оплатим сегодня.",
        attachments=(Attachment("акт сверки.pdf", "application/pdf", b"%PDF-1.4"),),
        reply_to_id="<abc@romashka.ru>",
        reply_refs=("<root@company.test>",),
    )
    msg = build_message(draft, sender="inbox@company.test", sender_name="Анна Админ", domain="company.test")
    raw = msg.as_bytes()
    raw.decode("ascii")  # the queue keeps it as text
    back = message_from_bytes(raw, policy=policy.default)
    assert back["Subject"] == "Re: Счёт на оплату № 17"
    assert back["In-Reply-To"] == "<abc@romashka.ru>"
    assert back["References"] == "<root@company.test> <abc@romashka.ru>"
    assert str(back["From"]) == "Анна Админ <inbox@company.test>"
    assert back.get_body(("plain",)).get_content().strip() == "Спасибо, оплатим сегодня."
    [part] = list(back.iter_attachments())
    assert part.get_filename() == "акт сверки.pdf" and part.get_content() == b"%PDF-1.4"


def test_re_is_not_doubled_and_references_do_not_repeat() -> None:
    assert reply_subject("RE: вопрос") == "RE: вопрос"
    assert reply_subject("Ответ: вопрос") == "Ответ: вопрос"
    assert reply_subject("вопрос") == "Re: вопрос"
    assert references("<b@x>", ("<a@x>", "<b@x>")) == ("<a@x>", "<b@x>")


def test_a_letter_too_big_to_send_is_refused_before_it_is_queued() -> None:
    big = Attachment("архив.zip", "application/zip", b"\0" * (16 * 1024 * 1024))
    draft = Draft(to=("a@b.ru",), subject="s", body="b", attachments=(big,))
    with pytest.raises(LetterError, match="МБ"):
        build_message(draft, sender="inbox@company.test", sender_name="", domain="company.test")


def test_a_line_break_in_the_subject_cannot_add_a_header() -> None:
    draft = Draft(to=("a@b.ru",), subject="Счёт\r\nBcc: victim@evil.ru", body="…")
    msg = build_message(draft, sender="inbox@company.test", sender_name="Анна\nАдмин", domain="company.test")
    back = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert back["Subject"] == "Счёт Bcc: victim@evil.ru" and back["Bcc"] is None
    assert str(back["From"]) == "Анна Админ <inbox@company.test>"

"""Writing a letter: the MIME message an employee's reply or new letter becomes.

Templates are filled by `adapters.builtin.placeholders`, the same renderer as SMS mailings.

Pure. The message is built once, when the letter is queued, with its own Message-ID and Date, so
a retry after a failure or a restart sends the very same letter (a receiver that sees it twice
can tell by the Message-ID). Its text is 7-bit (headers as RFC 2047 words, bodies as base64), so
the queue keeps it as plain text in any database.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from adapters.builtin.mail_parse import Attachment, message_ids

MAX_OUTGOING_BYTES = 15 * 1024 * 1024  # the whole letter as sent; most providers refuse over 20-25 MB


class LetterError(ValueError):
    """The letter cannot be written as asked (bad address, unknown placeholder, too big)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What an employee wrote: recipients, subject, text, files; and the letter it answers."""

    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    reply_to_id: str = ""  # the Message-ID answered
    reply_refs: tuple[str, ...] = ()  # the References of the letter answered


_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def check_address(addr: str) -> str:
    """`addr` trimmed and lower-cased, or LetterError when it is not an e-mail address."""
    clean = addr.strip().lower()
    if not _ADDRESS.match(clean):
        raise LetterError(f"не адрес электронной почты: {addr!r}")
    return clean


def reply_subject(subject: str) -> str:
    """'Re: ' before a subject that has none yet (Re:, RE:, Ответ:)."""
    if re.match(r"^\s*(re|ответ|отв)\s*:", subject, re.I):
        return subject
    return f"Re: {subject}"


def references(parent_id: str, parent_refs: Sequence[str]) -> tuple[str, ...]:
    """The References of an answer: the parent's, then the parent (RFC 5322 §3.6.4), the last 20."""
    return tuple(dict.fromkeys([*parent_refs, parent_id]))[-20:] if parent_id else ()


def build_message(
    draft: Draft, *, sender: str, sender_name: str, domain: str, message_id: str | None = None
) -> EmailMessage:
    """The MIME letter for `draft` from `sender`; LetterError when it would be too big to send."""
    msg = EmailMessage(policy=policy.SMTP)
    sender_name = " ".join(sender_name.split())
    msg["From"] = Address(sender_name, addr_spec=sender) if sender_name else sender
    msg["To"] = ", ".join(draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(draft.cc)
    msg["Subject"] = " ".join(draft.subject.split())  # a line break would start a header of its own
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=domain)
    if draft.reply_to_id:
        msg["In-Reply-To"] = draft.reply_to_id
        msg["References"] = " ".join(references(draft.reply_to_id, draft.reply_refs))
    msg.set_content(draft.body, charset="utf-8", cte="base64")
    for item in draft.attachments:
        main, _, sub = item.ctype.partition("/")
        msg.add_attachment(item.data, maintype=main or "application", subtype=sub or "octet-stream",
                           filename=item.name)  # fmt: skip
    raw = msg.as_bytes()
    if len(raw) > MAX_OUTGOING_BYTES:
        raise LetterError(f"письмо больше {MAX_OUTGOING_BYTES // (1024 * 1024)} МБ вместе с вложениями")
    return msg


def message_id_of(msg: EmailMessage) -> str:
    """The <id> a built message carries."""
    found = message_ids(str(msg["Message-ID"]))
    return found[0] if found else ""

"""Reading a received letter: headers decoded, the text body, attachments, the thread it belongs to.

Pure (bytes in, a `Letter` out), so the same code reads what Dovecot hands over and what the tests
build. Letters are what strangers send: every header may be missing or malformed, a body may be
in any charset or only in HTML, and nothing here may raise on them.
"""

from __future__ import annotations

import email.utils
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from adapters.builtin.db import iso

MAX_BODY_CHARS = 200_000  # the text kept of one letter; the rest is cut with a mark
MAX_ATTACHMENTS = 50  # attachments kept per letter


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file in a letter: its name, type and bytes."""

    name: str
    ctype: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Letter:
    """A letter as the CRM keeps it."""

    message_id: str
    from_addr: str
    from_name: str
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    subject: str
    body: str
    sent_at: str
    in_reply_to: str = ""
    refs: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())

    @property
    def thread(self) -> str:
        """The Message-ID the conversation began with (References' first, else the parent, else own)."""
        return self.refs[0] if self.refs else self.in_reply_to or self.message_id


_MSGID = re.compile(r"<[^<>\s]+>")


def message_ids(value: str) -> tuple[str, ...]:
    """The <...> ids in a References / In-Reply-To header, in order, without repeats."""
    return tuple(dict.fromkeys(_MSGID.findall(value or "")))


def parse_letter(raw: bytes, *, fallback_id: str, received_at: datetime | None = None) -> Letter:
    """`raw` (RFC 5322 bytes) as a `Letter`; `fallback_id` names a letter that has no Message-ID."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    name, addr = _sender(msg)
    own = message_ids(_header(msg, "Message-ID"))
    parents = message_ids(_header(msg, "In-Reply-To"))
    return Letter(
        message_id=own[0] if own else fallback_id,
        from_addr=addr,
        from_name=name,
        to_addrs=_addresses(msg, "To"),
        cc_addrs=_addresses(msg, "Cc"),
        subject=_header(msg, "Subject")[:1000],
        body=_body_text(msg),
        sent_at=_date(msg, received_at),
        in_reply_to=parents[0] if parents else "",
        refs=message_ids(_header(msg, "References"))[-50:],
        attachments=tuple(_attachments(msg)),
    )


def _header(msg: Message, name: str) -> str:
    """A header's decoded text ('' when absent or undecodable): RFC 2047 words give Cyrillic."""
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _sender(msg: Message) -> tuple[str, str]:
    pairs = email.utils.getaddresses([_header(msg, "From")])
    name, addr = pairs[0] if pairs else ("", "")
    return name.strip(), addr.strip().lower()


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    pairs = email.utils.getaddresses([_header(msg, name)])
    return tuple(dict.fromkeys(a.strip().lower() for _, a in pairs if "@" in a))[:100]


def _date(msg: Message, received_at: datetime | None) -> str:
    try:
        moment = email.utils.parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None or moment.tzinfo is None:
        moment = received_at or datetime.now(UTC)
    return iso(moment)


def _body_text(msg: Message) -> str:
    """The plain-text part, or the HTML part turned into text; '' when there is neither."""
    if not isinstance(msg, EmailMessage):
        return ""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = html_to_text(content) if part.get_content_subtype() == "html" else str(content)
    text = text.replace("\r\n", "\n").strip()
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "\n[…письмо обрезано]"


_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.I | re.S)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.I)


def html_to_text(markup: str) -> str:
    """The readable text of an HTML letter (tags dropped, lines kept); never rendered as HTML."""
    text = _TAGS.sub("", _BREAKS.sub("\n", markup))
    lines = (" ".join(line.split()) for line in html.unescape(text).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _attachments(msg: Message) -> list[Attachment]:
    found: list[Attachment] = []
    if not isinstance(msg, EmailMessage):
        return found
    for part in msg.iter_attachments():
        if len(found) >= MAX_ATTACHMENTS:
            break
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        name = part.get_filename() or f"вложение-{len(found) + 1}"
        found.append(Attachment(safe_name(name), part.get_content_type(), data))
    return found


def safe_name(name: str) -> str:
    """A file name fit to show and to offer for download: no path, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip(" .")
    return name[:200] or "файл"

"""Talking to the mail servers: fetching new letters over IMAP and sending over SMTP.

IMAP uses the standard library's `imaplib` in a worker thread (its socket has a timeout, so a
silent server cannot hold the thread for ever); SMTP uses `aiosmtplib` with a timeout on every
step. When the server offers IDLE (RFC 2177) the worker waits in it (`idle_wait`, also in a
thread: Python 3.11's imaplib has no idle(), and the exchange is two lines, so it is written here
rather than adding an asyncio IMAP client beside imaplib); letters are still fetched by a short
session of their own. Errors come back as `MailError`, with the server's words and never the
password.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib

TIMEOUT = 30.0  # seconds for any one network step
BATCH = 50  # letters fetched per round; a round with more left is followed by another at once
FIRST_FETCH = 100  # a newly connected mailbox brings in its latest letters, not years of them
MAX_LETTER_BYTES = 25 * 1024 * 1024  # a bigger letter is skipped (and said so in the status)
IDLE_MAX = 29 * 60.0  # RFC 2177: servers may drop an IDLE after 30 minutes, so re-issue before
IDLE_TICK = 1.0  # how often a waiting IDLE looks at the stop flag (the bound on a prompt stop)
IDLE_TAG = b"CRMIDLE"
_EXISTS = re.compile(rb"^\* \d+ EXISTS", re.IGNORECASE)


class MailError(Exception):
    """A mail server refused or failed; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False, auth: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.auth = auth


class IdleUnsupported(MailError):
    """The server does not offer IDLE (or refused it): the mailbox is polled instead."""


@dataclass(frozen=True, slots=True)
class Account:
    """Where and as whom to connect; `password` is resolved just before use and never shown."""

    host: str
    port: int
    security: str  # ssl, starttls, none
    login: str
    password: str = field(repr=False)


def resolve_secret(secret: str, env: str, file: str) -> str:
    """The mailbox password: typed in, or from an environment variable, or from a file."""
    if secret:
        return secret
    if env:
        value = os.environ.get(env)
        if value is None:
            raise MailError(f"переменная окружения {env} не задана", auth=True)
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MailError(f"файл с паролем не читается: {exc.strerror}", auth=True) from exc
    raise MailError("пароль почты не задан", auth=True)


@dataclass(frozen=True, slots=True)
class Fetched:
    """One round's result: the folder's UIDVALIDITY, new letters by UID, the UID reached, and the
    letters over the size limit by UID with their headers only."""

    uidvalidity: int
    letters: list[tuple[int, bytes]]
    last_uid: int
    skipped: list[tuple[int, bytes]]
    more: bool


def fetch_new(account: Account, folder: str, uidvalidity: int | None, last_uid: int) -> Fetched:
    """Letters after `last_uid` in `folder` (blocking: run in a thread). Read-only: marks nothing seen."""
    try:
        conn = _connect(account)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise MailError(f"IMAP {account.host}:{account.port}: {_why(exc)}") from exc
    try:
        _login(conn, account)
        return _fetch(conn, folder, uidvalidity, last_uid)
    except imaplib.IMAP4.error as exc:
        raise MailError(f"IMAP: {_why(exc)}") from exc
    except OSError as exc:
        raise MailError(f"IMAP {account.host}:{account.port}: {_why(exc)}") from exc
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def idle_wait(
    account: Account,
    folder: str,
    uidvalidity: int | None,
    last_uid: int,
    *,
    stop: threading.Event,
    on_idle: Callable[[], None] = lambda: None,
    max_seconds: float = IDLE_MAX,
) -> bool:
    """Wait in IDLE on `folder` (blocking: run in a thread); True when there are letters to fetch.

    True at once when letters after `last_uid` are already there (they came between the last fetch
    and this session) or the folder was rebuilt; False after `max_seconds` or when `stop` is set.
    """
    try:
        conn = _connect(account)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise MailError(f"IMAP {account.host}:{account.port}: {_why(exc)}") from exc
    try:
        _login(conn, account)
        if not _offers_idle(conn):
            raise IdleUnsupported("сервер IMAP не поддерживает IDLE")
        if _has_news(conn, folder, uidvalidity, last_uid):
            return True
        return _idle(conn, stop, on_idle, max_seconds)
    except imaplib.IMAP4.error as exc:
        raise MailError(f"IMAP: {_why(exc)}") from exc
    except OSError as exc:
        raise MailError(f"IMAP {account.host}:{account.port}: {_why(exc)}") from exc
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.sock.settimeout(TIMEOUT)
            conn.logout()


def _offers_idle(conn: imaplib.IMAP4) -> bool:
    _typ, data = conn.capability()  # after login: servers add capabilities once signed in
    words = (data[0] or b"").upper().split() if data and isinstance(data[0], bytes) else []
    return b"IDLE" in words


def _has_news(conn: imaplib.IMAP4, folder: str, uidvalidity: int | None, last_uid: int) -> bool:
    typ, _data = conn.select(_quoted(folder), readonly=True)
    if typ != "OK":
        raise MailError(f"папки {folder!r} нет на сервере", permanent=True)
    if int(_untagged(conn, "UIDVALIDITY") or 0) != uidvalidity:
        return True
    _typ, data = conn.uid("SEARCH", f"UID {last_uid + 1}:*")
    return any(int(u) > last_uid for u in (data[0] or b"").split())  # n:* always holds the last UID


def _idle(conn: imaplib.IMAP4, stop: threading.Event, on_idle: Callable[[], None], limit: float) -> bool:
    """The IDLE … DONE exchange on the raw socket, read with our own buffer and a short timeout."""
    sock = conn.sock
    sock.sendall(IDLE_TAG + b" IDLE\r\n")
    lines, news, answer = _Lines(sock), False, time.monotonic() + TIMEOUT
    while (first := lines.next(answer) or b"").startswith(b"* "):  # untagged news may come first
        news = news or bool(_EXISTS.match(first))
    if not first.startswith(b"+"):
        raise IdleUnsupported(f"сервер IMAP отказал в IDLE: {first.decode(errors='replace')[:200]}")
    on_idle()
    deadline = time.monotonic() + limit
    while not news and not stop.is_set() and time.monotonic() < deadline:
        line = lines.next(time.monotonic() + IDLE_TICK, quiet=True)
        if line is not None and line.upper().startswith(b"* BYE"):
            raise MailError(f"IMAP закрыл соединение: {line.decode(errors='replace')[:200]}")
        news = line is not None and bool(_EXISTS.match(line))
    sock.sendall(b"DONE\r\n")
    end = time.monotonic() + TIMEOUT
    while (line := lines.next(end)) is not None and not line.startswith(IDLE_TAG + b" "):
        news = news or bool(_EXISTS.match(line))
    return news


class _Lines:
    """CRLF-ended lines from a socket with a deadline per line (a timeout never loses bytes)."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self, deadline: float, *, quiet: bool = False) -> bytes | None:
        """The next line; None when `quiet` and the deadline passed, MailError when not quiet."""
        while b"\r\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                if quiet:
                    return None
                raise MailError("IMAP не ответил вовремя")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise MailError("IMAP закрыл соединение")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line


def _connect(account: Account) -> imaplib.IMAP4:
    if account.security == "ssl":
        return imaplib.IMAP4_SSL(account.host, account.port, ssl_context=ssl.create_default_context(),
                                 timeout=TIMEOUT)  # fmt: skip
    conn = imaplib.IMAP4(account.host, account.port, timeout=TIMEOUT)
    if account.security == "starttls":
        conn.starttls(ssl.create_default_context())
    return conn


def _login(conn: imaplib.IMAP4, account: Account) -> None:
    try:
        if account.password.isascii() and account.login.isascii():
            conn.login(account.login, account.password)
        else:  # LOGIN takes ASCII only; SASL PLAIN carries UTF-8
            token = f"\0{account.login}\0{account.password}".encode()
            conn.authenticate("PLAIN", lambda _challenge: token)
    except imaplib.IMAP4.error as exc:
        raise MailError(f"IMAP не принял логин или пароль: {_why(exc)}", auth=True) from exc


def _fetch(conn: imaplib.IMAP4, folder: str, uidvalidity: int | None, last_uid: int) -> Fetched:
    typ, data = conn.select(_quoted(folder), readonly=True)
    if typ != "OK":
        raise MailError(f"папки {folder!r} нет на сервере", permanent=True)
    validity = int(_untagged(conn, "UIDVALIDITY") or 0)
    uid_next = int(_untagged(conn, "UIDNEXT") or 0)
    if validity != uidvalidity:  # a new mailbox, or the folder was rebuilt: UIDs mean new things
        last_uid = max(0, uid_next - 1 - FIRST_FETCH) if uid_next else 0
    typ, data = conn.uid("SEARCH", f"UID {last_uid + 1}:*")
    uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)
    batch, more = uids[:BATCH], len(uids) > BATCH
    sizes = _sizes(conn, batch)
    letters: list[tuple[int, bytes]] = []
    skipped: list[tuple[int, bytes]] = []
    for uid in batch:
        big = sizes.get(uid, 0) > MAX_LETTER_BYTES
        raw = _body(conn, uid, "HEADER" if big else "")  # too big: its headers, to say it came
        if raw is not None:
            (skipped if big else letters).append((uid, raw))
    return Fetched(validity, letters, batch[-1] if batch else last_uid, skipped, more)


def _untagged(conn: imaplib.IMAP4, name: str) -> str | None:
    _typ, data = conn.response(name)
    value = data[-1] if data else None
    return value.decode() if isinstance(value, bytes) else value


def _sizes(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    if not uids:
        return {}
    _typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
    sizes = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if isinstance(line, bytes):
            uid, size = re.search(rb"UID (\d+)", line), re.search(rb"RFC822\.SIZE (\d+)", line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def _body(conn: imaplib.IMAP4, uid: int, section: str = "") -> bytes | None:
    _typ, data = conn.uid("FETCH", str(uid), f"(BODY.PEEK[{section}])")
    for item in data:
        if isinstance(item, tuple) and isinstance(item[1], bytes):
            return item[1]
    return None  # deleted between SEARCH and FETCH


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


async def send(account: Account, raw: bytes, mail_from: str, recipients: list[str]) -> str:
    """Hand one letter to the SMTP server; a note of recipients it refused ('' when none)."""
    try:
        refused, _reply = await aiosmtplib.send(
            raw,
            sender=mail_from,
            recipients=recipients,
            hostname=account.host,
            port=account.port,
            username=account.login,
            password=account.password,
            use_tls=account.security == "ssl",
            start_tls=account.security == "starttls",
            timeout=TIMEOUT,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise MailError(
            f"SMTP отказал всем получателям: {_refusals(exc.recipients)}", permanent=True
        ) from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise MailError(f"SMTP не принял логин или пароль: {exc.code} {exc.message}", auth=True) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise MailError(f"SMTP {exc.code} {exc.message}", permanent=500 <= exc.code < 600) from exc
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {account.host}:{account.port}: {_why(exc)}") from exc
    return "; ".join(f"{addr}: {code} {text}" for addr, (code, text) in refused.items())


def _refusals(items: list[aiosmtplib.SMTPRecipientRefused]) -> str:
    return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in items)[:500]

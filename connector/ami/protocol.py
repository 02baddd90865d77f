"""AMI framing: bytes in, whole messages out, in order, never losing a character.

panoramisk 1.4 decodes every TCP chunk on its own (errors ignored) before splitting messages, so
a Cyrillic caller name cut by a chunk boundary loses a letter, and an exception in a handler
closes its transport. Here bytes are buffered until the blank line that ends a message, each
whole message is decoded as UTF-8, and the consumer's errors are caught and logged with the
message, so the connection and the rest of the buffer survive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from connector import ami_values as values
from connector import logs

log = logs.get_logger(__name__)

EOL = b"\r\n"
TERMINATOR = b"\r\n\r\n"
MAX_MESSAGE_BYTES = 1 << 20
"""A message larger than this without its blank line means the peer is not speaking AMI."""

Message = dict[str, str]
"""One AMI message: header name (as sent) → value; repeated headers are joined with a newline."""


def parse_message(raw: bytes) -> Message:
    """Parse one whole message (without its terminating blank line) into a header mapping."""
    text = raw.decode("utf-8", errors="replace")
    message: Message = {}
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep or not name:
            continue  # the banner, or noise between messages: never a header
        value = value[1:] if value.startswith(" ") else value
        if name in message:
            # ChanVariable and friends repeat; keep every value rather than the last one
            message[name] = f"{message[name]}\n{value}"
        else:
            message[name] = value
    return message


def encode_action(headers: Mapping[str, str]) -> bytes:
    """One action as AMI wire bytes (UTF-8, so Cyrillic caller ids survive); `UnsafeValueError`
    for a value with a line break (see `connector.ami.values`)."""
    # Every action passes here: the last guard against a value that would add a header.
    lines = [f"{name}: {value}" for name, value in values.action(headers).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class AmiProtocol(asyncio.Protocol):
    """Splits the byte stream into messages and hands each, in order, to `on_message`.

    The banner line (`Asterisk Call Manager/x.y.z`) resolves `banner`; the end of the
    connection resolves `closed` with the reason (a string), whatever caused it.
    """

    def __init__(self, on_message: Callable[[Message], None], max_message: int = MAX_MESSAGE_BYTES) -> None:
        self._on_message = on_message
        self._max_message = max_message
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.bytes_received = 0

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport; nothing is sent until the banner arrives."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        """Buffer bytes; emit every complete message they finish."""
        self.bytes_received += len(data)
        self._buffer += data
        if not self.banner.done() and not self._take_banner():
            return
        while True:
            end = self._buffer.find(TERMINATOR)
            if end < 0:
                break
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(TERMINATOR)]
            self._emit(raw)
        if len(self._buffer) > self._max_message:
            self.abort(f"a message longer than {self._max_message} bytes: not AMI")

    def eof_received(self) -> bool:
        """The peer closed its side: close ours too."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Resolve `closed` (and a banner that never came) with the reason."""
        reason = f"connection lost: {exc}" if exc else "connection closed by Asterisk"
        if not self.banner.done():
            self.banner.set_exception(ConnectionError(reason))
            self.banner.exception()  # retrieved here: a missing banner is reported through `closed`
        if not self.closed.done():
            self.closed.set_result(reason)
        self._transport = None

    # -- used by the session ---------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send bytes if the connection is still open."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the AMI connection is closed")
        self._transport.write(data)

    def abort(self, reason: str) -> None:
        """Drop the connection now (no flush: the peer may be frozen) and record why."""
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._transport is not None:
            self._transport.abort()

    def close(self, reason: str = "closed by the connector") -> None:
        """Close after flushing what was written (a Logoff)."""
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._transport is not None:
            self._transport.close()

    # -- internals -----------------------------------------------------------------------------

    def _take_banner(self) -> bool:
        end = self._buffer.find(EOL)
        if end < 0:
            if len(self._buffer) > 256:
                self.abort("no AMI banner: the peer is not Asterisk's manager interface")
            return False
        line = bytes(self._buffer[:end]).decode("utf-8", errors="replace")
        del self._buffer[: end + len(EOL)]
        if not line.startswith("Asterisk Call Manager/"):
            self.banner.set_exception(ConnectionError(f"unexpected banner {line[:80]!r}"))
            self.abort("not an AMI banner")
            return False
        self.banner.set_result(line.partition("/")[2].strip())
        return True

    def _emit(self, raw: bytes) -> None:
        if not raw.strip():
            return
        message = parse_message(raw)
        if not message:
            log.warning("ami.malformed_message", raw=raw[:200].decode("utf-8", errors="replace"))
            return
        try:
            self._on_message(message)
        except Exception:
            # The isolation boundary: one bad message or handler must not cost the connection.
            log.exception("ami.message_handler_failed", message=message)

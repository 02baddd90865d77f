"""A small raw AMI client for the PBX harness: UTF-8 safe, ordered, with action timeouts.

It buffers bytes and decodes each whole message (up to the blank line) as UTF-8, so a multi-byte
character split across TCP reads arrives intact; panoramisk does not, which is why the recorder
does not use it. Every event is appended, in order, to ``events`` (a log the scenarios search
from a cursor, so an event that came before anyone waited for it is never missed).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Message = dict[str, str | list[str]]
"""One AMI message: header name -> value; a repeated header (ChanVariable) -> list of values."""

EventPredicate = Callable[[Message], bool]

_TERMINATOR = b"\r\n\r\n"


class AmiError(Exception):
    """An AMI action failed, timed out, or the connection was lost."""


def parse_message(raw: bytes) -> Message:
    """Parse one AMI message (without its terminating blank line) into a header dict."""
    text = raw.decode("utf-8", errors="replace")
    message: Message = {}
    for line in text.split("\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            # Asterisk's own banner has no colon; anything else like it is kept, not lost.
            name, value = "_line", line
        else:
            value = value[1:] if value.startswith(" ") else value
        previous = message.get(name)
        if previous is None:
            message[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            message[name] = [previous, value]
    return message


def header(message: Message, name: str) -> str:
    """The first value of a header, or '' when absent (repeated headers give their first)."""
    value = message.get(name, "")
    return value[0] if isinstance(value, list) else value


@dataclass
class _Pending:
    """An action waiting for its response (and, for list actions, its events)."""

    response: asyncio.Future[Message]
    collect_list: bool
    items: list[Message] = field(default_factory=list)
    done: asyncio.Future[list[Message]] | None = None


class AmiClient:
    """One AMI session: login, actions matched by ActionID, and an ordered event log."""

    def __init__(self, host: str, port: int, username: str, secret: str, name: str = "ami"):
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.name = name
        self.events: list[Message] = []
        self._changed = asyncio.Condition()
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self.closed_reason: str | None = None

    async def connect(self, login_timeout: float = 5.0) -> None:
        """Open the TCP session and log in with every event class."""
        reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), login_timeout
        )
        self._reader = reader
        banner = await asyncio.wait_for(reader.readline(), login_timeout)
        if not banner.startswith(b"Asterisk Call Manager"):
            raise AmiError(f"{self.name}: unexpected banner {banner!r}")
        self._task = asyncio.create_task(self._read_loop(), name=f"ami-reader-{self.name}")
        reply = await self.action(
            "Login",
            Username=self.username,
            Secret=self.secret,
            Events="on",
            reply_timeout=login_timeout,
        )
        if header(reply, "Response") != "Success":
            raise AmiError(f"{self.name}: login failed: {reply}")

    async def close(self) -> None:
        """Log off (best effort) and close the connection; safe to call twice."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            writer.write(b"Action: Logoff\r\n\r\n")
            await asyncio.wait_for(writer.drain(), 1.0)
        except (TimeoutError, OSError):
            pass
        writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _read_loop(self) -> None:
        """Read whole messages and dispatch them; ends when the connection closes."""
        assert self._reader is not None
        try:
            while True:
                raw = await self._reader.readuntil(_TERMINATOR)
                await self._dispatch(parse_message(raw[: -len(_TERMINATOR)]))
        except asyncio.IncompleteReadError:
            self.closed_reason = "connection closed by Asterisk"
        except OSError as exc:
            self.closed_reason = f"connection error: {exc}"
        finally:
            self._fail_pending()

    async def _dispatch(self, message: Message) -> None:
        """Route a response to its action, and log every event (in order)."""
        action_id = header(message, "ActionID")
        pending = self._pending.get(action_id)
        if "Response" in message and pending is not None:
            if not pending.response.done():
                pending.response.set_result(message)
            if not pending.collect_list or header(message, "Response") != "Success":
                self._finish(action_id, pending)
            return
        if "Event" not in message:
            return
        if pending is not None and pending.collect_list:
            # Items of a list action (CoreShowChannels...) are answers, not call events.
            if header(message, "EventList") == "Complete":
                self._finish(action_id, pending)
            else:
                pending.items.append(message)
            return
        async with self._changed:
            self.events.append(message)
            self._changed.notify_all()

    def _finish(self, action_id: str, pending: _Pending) -> None:
        self._pending.pop(action_id, None)
        if pending.done is not None and not pending.done.done():
            pending.done.set_result(pending.items)

    def _fail_pending(self) -> None:
        error = AmiError(f"{self.name}: {self.closed_reason or 'closed'}")
        for pending in self._pending.values():
            for future in (pending.response, pending.done):
                if future is not None and not future.done():
                    future.set_exception(error)
        self._pending.clear()

    def _send(self, action: str, action_id: str, headers: dict[str, str | list[str]]) -> None:
        if self._writer is None:
            raise AmiError(f"{self.name}: not connected")
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for key, value in headers.items():
            for one in value if isinstance(value, list) else [value]:
                lines.append(f"{key}: {one}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))

    async def action(
        self,
        action: str,
        *,
        reply_timeout: float = 5.0,
        action_id: str | None = None,
        **headers: str | list[str],
    ) -> Message:
        """Send an action and return its response (any Response value; the caller judges)."""
        action_id = action_id or f"{self.name}-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        pending = _Pending(response=loop.create_future(), collect_list=False)
        self._pending[action_id] = pending
        self._send(action, action_id, headers)
        try:
            return await asyncio.wait_for(pending.response, reply_timeout)
        except TimeoutError as exc:
            raise AmiError(f"{self.name}: {action} got no response in {reply_timeout} s") from exc
        finally:
            self._pending.pop(action_id, None)

    async def list_action(
        self, action: str, *, reply_timeout: float = 5.0, **headers: str | list[str]
    ) -> list[Message]:
        """Send a list action (CoreShowChannels, QueueStatus...) and return its items."""
        action_id = f"{self.name}-list-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        pending = _Pending(response=loop.create_future(), collect_list=True, done=loop.create_future())
        assert pending.done is not None
        self._pending[action_id] = pending
        self._send(action, action_id, headers)
        try:
            response = await asyncio.wait_for(pending.response, reply_timeout)
            if header(response, "Response") != "Success":
                raise AmiError(f"{self.name}: {action} failed: {response}")
            return await asyncio.wait_for(pending.done, reply_timeout)
        except TimeoutError as exc:
            raise AmiError(f"{self.name}: {action} did not complete in {reply_timeout} s") from exc
        finally:
            self._pending.pop(action_id, None)

    async def command(self, command: str, reply_timeout: float = 5.0) -> str:
        """Run a CLI command through AMI and return its output text."""
        reply = await self.action("Command", Command=command, reply_timeout=reply_timeout)
        output = reply.get("Output", "")
        return "\n".join(output) if isinstance(output, list) else output

    async def wait_event(
        self,
        predicate: EventPredicate,
        *,
        since: int = 0,
        wait_timeout: float = 10.0,
        what: str = "event",
    ) -> tuple[int, Message]:
        """Wait for the first event at index >= since that matches; return (index, event)."""

        async def scan() -> tuple[int, Message]:
            index = since
            async with self._changed:
                while True:
                    while index < len(self.events):
                        if predicate(self.events[index]):
                            return index, self.events[index]
                        index += 1
                    if self._writer is None or self.closed_reason:
                        raise AmiError(f"{self.name}: closed while waiting for {what}")
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), wait_timeout)
        except TimeoutError as exc:
            raise AmiError(f"{self.name}: no {what} within {wait_timeout} s") from exc


def match(**expected: str) -> EventPredicate:
    """A predicate: every given header equals the given value (startswith for '...*')."""

    def predicate(event: Message) -> bool:
        for name, want in expected.items():
            have = header(event, name)
            if want.endswith("*"):
                if not have.startswith(want[:-1]):
                    return False
            elif have != want:
                return False
        return True

    return predicate

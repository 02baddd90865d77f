"""A small AMI-speaking TCP server for the unit tests: real sockets on 127.0.0.1, scripted answers.

It speaks enough of Asterisk's manager protocol for the client: banner, Login (with a real
credential check), Filter, Ping, CoreShowChannels, Originate (Async, then OriginateResponse),
Hangup, Logoff. It can send one byte per write (so messages are cut across TCP reads), freeze
(stop answering with the socket left open) and drop every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def encode(headers: dict[str, str]) -> bytes:
    """One AMI message on the wire."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("utf-8") + b"\r\n"


def parse(raw: bytes) -> dict[str, str]:
    """One action from the wire (the last value wins for repeated headers)."""
    out: dict[str, str] = {}
    for line in raw.decode("utf-8").split("\r\n"):
        name, _, value = line.partition(": ")
        if name:
            out[name] = value
    return out


@dataclass
class Connection:
    """One client connection as the server sees it."""

    writer: asyncio.StreamWriter
    logged_in: bool = False
    filters: list[str] = field(default_factory=list)
    events_mask: str = ""


class AmiServer:
    """The server; `async with AmiServer(...) as server:` listens on `server.port`."""

    def __init__(
        self, username: str = "crm", secret: str = "s3cret", *, byte_at_a_time: bool = False
    ) -> None:
        self.username = username
        self.secret = secret
        self.byte_at_a_time = byte_at_a_time
        self.channels: list[dict[str, str]] = []
        self.actions: list[dict[str, str]] = []
        self.login_attempts = 0
        self.successful_logins = 0
        self.connections: list[Connection] = []
        self.frozen = False
        self.answer_pings = True
        self.drop_on_list = 0  # drop the connection instead of answering the next N CoreShowChannels
        self.hang_up_while_listing: set[str] = set()  # uniqueids whose Hangup comes amid the list
        self.logged_in = asyncio.Condition()
        self.action_seen = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> AmiServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    # -- what tests do -------------------------------------------------------------------------

    async def wait_logins(self, count: int) -> None:
        """Wait until `count` successful logins have happened in all."""
        async with self.logged_in:
            await self.logged_in.wait_for(lambda: self.successful_logins >= count)

    def _named(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action") == name]

    async def wait_action(self, name: str, count: int = 1) -> dict[str, str]:
        """Wait until the `count`-th action called `name` has arrived; return it."""
        async with self.action_seen:
            await self.action_seen.wait_for(lambda: len(self._named(name)) >= count)
        return self._named(name)[count - 1]

    async def send_event(self, headers: dict[str, str]) -> None:
        """Send an event to every logged-in connection."""
        for conn in list(self.connections):
            if conn.logged_in:
                await self._write(conn, headers)

    def drop(self) -> None:
        """Close every connection at once (as a crashed Asterisk would)."""
        for conn in self.connections:
            conn.writer.transport.abort()
        self.connections.clear()

    # -- the protocol --------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection(writer)
        self.connections.append(conn)
        try:
            await self._write_raw(conn, BANNER)
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                if self.frozen:
                    continue  # a frozen Asterisk reads nothing back either
                await self._answer(conn, parse(raw[:-4]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(ValueError):
                self.connections.remove(conn)
            writer.transport.abort()

    async def _answer(self, conn: Connection, action: dict[str, str]) -> None:
        name = action.get("Action", "")
        handler = getattr(self, f"_on_{name.lower()}", self._on_other)
        await handler(conn, action)
        self.actions.append(action)
        async with self.action_seen:
            self.action_seen.notify_all()

    async def _on_login(self, conn: Connection, action: dict[str, str]) -> None:
        self.login_attempts += 1
        aid = action.get("ActionID", "")
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            await self._write(
                conn, {"Response": "Error", "ActionID": aid, "Message": "Authentication failed"}
            )
            conn.writer.close()
            return
        conn.logged_in = True
        conn.events_mask = action.get("Events", "")
        await self._write(
            conn, {"Response": "Success", "ActionID": aid, "Message": "Authentication accepted"}
        )
        self.successful_logins += 1
        async with self.logged_in:
            self.logged_in.notify_all()

    async def _on_filter(self, conn: Connection, action: dict[str, str]) -> None:
        conn.filters.append(action.get("Filter", ""))
        await self._ok(conn, action, "Filter Added Successfully")

    async def _on_ping(self, conn: Connection, action: dict[str, str]) -> None:
        if self.answer_pings:
            await self._write(conn, {"Response": "Success", "ActionID": action["ActionID"], "Ping": "Pong"})

    async def _on_coreshowchannels(self, conn: Connection, action: dict[str, str]) -> None:
        aid = action["ActionID"]
        if self.drop_on_list:
            self.drop_on_list -= 1
            conn.writer.transport.abort()
            return
        await self._write(
            conn,
            {"Response": "Success", "ActionID": aid, "EventList": "start", "Message": "Channels will follow"},
        )
        for channel in self.channels:
            await self._write(conn, {"Event": "CoreShowChannel", "ActionID": aid, **channel})
            if channel.get("Uniqueid") in self.hang_up_while_listing:
                await self._write(conn, {"Event": "Hangup", "Cause": "16", **channel})
        await self._write(
            conn,
            {
                "Event": "CoreShowChannelsComplete",
                "ActionID": aid,
                "EventList": "Complete",
                "ListItems": str(len(self.channels)),
            },
        )

    async def _on_originate(self, conn: Connection, action: dict[str, str]) -> None:
        aid = action["ActionID"]
        await self._ok(conn, action, "Originate successfully queued")
        await self._write(
            conn,
            {
                "Event": "OriginateResponse",
                "ActionID": aid,
                "Response": "Success",
                "Channel": action.get("Channel", ""),
                "Reason": "4",
                "Uniqueid": "1763805600.42",
            },
        )

    async def _on_hangup(self, conn: Connection, action: dict[str, str]) -> None:
        if any(c.get("Channel") == action.get("Channel") for c in self.channels):
            await self._ok(conn, action, "Channel Hungup")
        else:
            await self._write(
                conn, {"Response": "Error", "ActionID": action["ActionID"], "Message": "No such channel"}
            )

    async def _on_logoff(self, conn: Connection, action: dict[str, str]) -> None:
        await self._write(conn, {"Response": "Goodbye", "ActionID": action["ActionID"]})
        conn.writer.close()

    async def _on_other(self, conn: Connection, action: dict[str, str]) -> None:
        await self._ok(conn, action, "Success")

    async def _ok(self, conn: Connection, action: dict[str, str], message: str) -> None:
        await self._write(conn, {"Response": "Success", "ActionID": action["ActionID"], "Message": message})

    async def _write(self, conn: Connection, headers: dict[str, str]) -> None:
        await self._write_raw(conn, encode(headers))

    async def _write_raw(self, conn: Connection, data: bytes) -> None:
        if self.frozen:
            return
        if not self.byte_at_a_time:
            conn.writer.write(data)
            await conn.writer.drain()
            return
        for i in range(len(data)):
            conn.writer.write(data[i : i + 1])
            await conn.writer.drain()
            await asyncio.sleep(0)  # let the loop flush each byte as its own segment

"""Connection limits in front of the HTTP server, so clients cannot hold the daemon's sockets.

Each accepted connection passes through `_Guarded`, a thin protocol around aiohttp's own:
- at most `max_per_address` connections from one address (an IPv6 /64 counts as one) and
  `max_connections` in all; a connection over either gets a bare `503` and is closed at once;
- a new connection must send a complete request head within `head_timeout` (slowloris);
  later idle keep-alive connections are closed by aiohttp after `idle_timeout` (`keepalive_timeout`);
  request bodies have `body_timeout` (see `connector.api.app.body_deadline`).
The total cap is also kept below the process's open-files limit (raised to its hard limit at
start), leaving `RESERVED_FDS` for AMI, SQLite and the CRMs: a flood of HTTP clients can never
leave AMI without a socket to reconnect with.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from connector import logs
from connector.api.settings import ConnectionLimits
from connector.api.throttle import address_key

log = logs.get_logger(__name__)

RESERVED_FDS = 256  # kept free for AMI, SQLite, CRM sessions, recordings, logs
WARN_EVERY = 60.0  # seconds between two "refused" log lines for one address
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 20\r\nConnection: close\r\n\r\ntoo many connections"
)
_END_OF_HEAD = b"\r\n\r\n"


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (systemd gives 1024 soft); the soft limit now."""
    try:
        import resource
    except ImportError:  # not on Linux
        return 1 << 16
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 16)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return int(soft)


def connection_cap(limits: ConnectionLimits, open_files: int) -> int:
    """How many HTTP connections may be open at once with `open_files` descriptors to spend."""
    return max(1, min(limits.max_connections, open_files - RESERVED_FDS))


class ConnectionGuard:
    """Counts open connections per address and in all; refuses those over the limits."""

    def __init__(self, limits: ConnectionLimits, open_files: int | None = None) -> None:
        self.limits = limits
        self.cap = connection_cap(limits, open_files if open_files is not None else raise_open_files_limit())
        self.open = 0
        self.by_address: dict[str, int] = {}
        self.refused = 0
        self.timed_out = 0
        self._warned: dict[str, float] = {}

    def admit(self, key: str) -> bool:
        """Count a new connection from `key`, or refuse it (False) when a limit is reached."""
        if self.open >= self.cap or self.by_address.get(key, 0) >= self.limits.max_per_address:
            self.refused += 1
            self._warn(key)
            return False
        self.open += 1
        self.by_address[key] = self.by_address.get(key, 0) + 1
        return True

    def release(self, key: str) -> None:
        """A counted connection from `key` has closed."""
        self.open -= 1
        left = self.by_address.get(key, 1) - 1
        if left > 0:
            self.by_address[key] = left
        else:
            self.by_address.pop(key, None)

    def _warn(self, key: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -WARN_EVERY) < WARN_EVERY:
            return
        if len(self._warned) > 1000:  # bounded: forget who was warned about
            self._warned.clear()
        self._warned[key] = now
        log.warning(
            "http.connection_refused", address=key, open=self.open, from_address=self.by_address.get(key, 0)
        )

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for `loop.create_server` wrapping aiohttp's (`runner.server`)."""
        return lambda: _Guarded(self, inner)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the limits and the request-head deadline."""

    def __init__(self, guard: ConnectionGuard, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self.make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.key = ""
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        self.key = address_key(str(peer[0])) if isinstance(peer, tuple) and peer else "unix"
        if not self.guard.admit(self.key):
            self.key = ""
            transport.write(_BUSY)
            transport.close()
            return
        self.transport = transport
        self.inner = self.make_inner()
        self.inner.connection_made(transport)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.guard.limits.head_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        self.timer = None
        self.guard.timed_out += 1
        if self.transport is not None:
            self.transport.abort()  # frees the descriptor now; no lingering close

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            seen = self.tail + data
            if _END_OF_HEAD in seen:
                self.timer.cancel()
                self.timer = None
            self.tail = seen[-3:]
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.key:
            self.guard.release(self.key)
            self.key = ""
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through a `ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner)
        self._host, self._port, self.guard = host, port, guard

    @property
    def name(self) -> str:
        """The URL this site serves."""
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        """Listen; every connection gets the guard's protocol around aiohttp's."""
        await super().start()
        server: Any = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.guard.factory(server), self._host, self._port, backlog=self._backlog, reuse_address=True
        )

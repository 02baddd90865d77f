"""A real sd_notify listener: the unix datagram socket systemd would hold, bound in a test folder.

Like systemd it reads every datagram as it comes, not only while a test waits: the kernel queues
few datagrams per unix socket (net.unix.max_dgram_qlen, 10 by default), and the daemon's
non-blocking sends are dropped when that queue is full, so a listener that read only when asked
would lose the `STOPPING=1` of a daemon that had sent a few watchdog pings in the meantime.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from pathlib import Path

KEPT = 10_000  # datagrams kept for `wait_for` (a watchdog ping a second: hours of them)


class NotifySocket:
    """Receives sd_notify datagrams; `wait_for("READY=1")` returns once one carries that line.

    Made inside a running event loop, which reads the socket from then on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: deque[str] = deque(maxlen=KEPT)
        self._arrived = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._drain)

    def _drain(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            self.messages.append(data.decode())
            self._arrived.set()

    async def wait_for(self, line: str) -> str:
        """The first datagram (from now or already received) with `line` among its lines."""
        while True:
            for message in self.messages:
                if line in message.split("\n"):
                    return message
            self._arrived.clear()
            await self._arrived.wait()

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

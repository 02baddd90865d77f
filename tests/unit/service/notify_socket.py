"""A real sd_notify listener: the unix datagram socket systemd would hold, bound in a test folder."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path


class NotifySocket:
    """Receives sd_notify datagrams; `wait_for("READY=1")` returns once one carries that line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    async def wait_for(self, line: str) -> str:
        """The first datagram (from now or already received) with `line` among its lines."""
        for message in self.messages:
            if line in message.split("\n"):
                return message
        loop = asyncio.get_running_loop()
        while True:
            message = (await loop.sock_recv(self.sock, 4096)).decode()
            self.messages.append(message)
            if line in message.split("\n"):
                return message

    def close(self) -> None:
        self.sock.close()

"""systemd's notify protocol (sd_notify), written directly: one datagram per state change.

`Type=notify` units get `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace); the
daemon sends `READY=1` once it serves, `STATUS=...` as a one-line summary for `systemctl
status`, `STOPPING=1` on shutdown and `WATCHDOG=1` at least every `WATCHDOG_USEC / 2`.
`WATCHDOG=1` is sent from a task on the event loop, so a stuck loop stops the keep-alives and
systemd restarts the daemon. Outside systemd every call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Mapping

from connector import logs

log = logs.get_logger(__name__)


class Notifier:
    """Sends sd_notify datagrams to `NOTIFY_SOCKET`, if there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_seconds = _watchdog_seconds(env)
        self._socket: socket.socket | None = None
        if self.address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)  # never wait on systemd from the event loop

    @property
    def enabled(self) -> bool:
        """Whether systemd listens."""
        return self._socket is not None

    def send(self, **fields: str) -> None:
        """Send `KEY=value` lines (e.g. `send(READY="1", STATUS="running")`)."""
        if self._socket is None:
            return
        text = "\n".join(f"{key}={value.replace(chr(10), ' ')}" for key, value in fields.items())
        try:
            self._socket.sendto(text.encode("utf-8"), self.address)
        except OSError as exc:
            # systemd gone or its queue full: the daemon keeps working; systemd will judge it
            log.debug("sdnotify.send_failed", error=str(exc))

    def ready(self, status: str) -> None:
        """Start-up finished."""
        self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        """A one-line summary for `systemctl status`."""
        self.send(STATUS=status)

    def stopping(self, status: str = "stopping") -> None:
        """Shutdown began."""
        self.send(STOPPING="1", STATUS=status)

    async def keep_alive(self) -> None:
        """Send WATCHDOG=1 at half the watchdog interval until cancelled (no-op without one)."""
        if self.watchdog_seconds is None or self._socket is None:
            return
        interval = self.watchdog_seconds / 2
        while True:
            self.send(WATCHDOG="1")
            await asyncio.sleep(interval)

    def close(self) -> None:
        """Release the socket."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """The watchdog interval systemd set for this process, or None."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (a parent shell)
    return int(usec) / 1_000_000

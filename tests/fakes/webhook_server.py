"""A fake webhook receiver: a real aiohttp server on 127.0.0.1 that counts deliveries.

It behaves like a careful receiver: it checks the HMAC signature (wrong → 401), applies each
`Idempotency-Key` once (a repeat is answered 200 again but changes nothing, and a repeat whose
body differs is a 422 conflict), and keeps what it received so tests assert on its state:
`effects` (key → first accepted document), `posts` (key → accepted requests, repeats included),
`arrivals` (key, monotonic time), `order` (keys as first applied) and `conflicts`. It can be
scripted to fail (`fail_next`), answer slowly (`delay`), or be stopped and restarted on the same
port (a real outage).

Run alone (for benchmarks): `python -m tests.fakes.webhook_server --secret S [--port P]` prints
`listening on http://127.0.0.1:P/hook` and serves until SIGTERM; GET /stats answers the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PATH = "/hook"


@dataclass(slots=True)
class Reply:
    """A scripted answer."""

    status: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class WebhookServer:
    """The fake receiver; `url` is where to POST once `start()` has returned."""

    def __init__(self, secret: str, *, delay: float = 0.0) -> None:
        self.secret = secret.encode()
        self.delay = delay  # seconds before answering each request (a slow receiver)
        self.script: collections.deque[Reply] = collections.deque()
        self.effects: dict[str, dict[str, Any]] = {}
        self.posts: collections.Counter[str] = collections.Counter()
        self.arrivals: list[tuple[str, float]] = []  # every request, scripted failures included
        self.conflicts: list[str] = []
        self.order: list[str] = []  # keys in the order they were first applied
        self.unsigned = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()  # cuts slow answers short when the server stops

    @property
    def url(self) -> str:
        """The hook URL."""
        return f"http://127.0.0.1:{self.port}{PATH}"

    def fail_next(
        self, count: int, status: int, text: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `count` requests with `status` (nothing applied)."""
        for _ in range(count):
            self.script.append(Reply(status, text, dict(headers or {})))

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (`port` 0: any free port; the same one again after `stop`)."""
        self._closing.clear()
        app = web.Application()
        app.router.add_post(PATH, self._hook)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening: connections are refused until `start()` again."""
        if self._runner is not None:
            self._closing.set()
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, effects: int) -> None:
        """Until at least `effects` distinct keys have been applied."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.effects) >= effects)

    async def wait_requests(self, count: int) -> None:
        """Until at least `count` requests (any answer) have arrived."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.arrivals) >= count)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        self.arrivals.append((key, time.monotonic()))
        await self._touch()
        if self.delay:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.delay):
                    await self._closing.wait()
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Connector-Signature", ""), expected):
            self.unsigned += 1
            return web.Response(status=401, text="bad signature")
        if self.script:
            reply = self.script.popleft()
            return web.Response(status=reply.status, text=reply.text, headers=reply.headers)
        return await self._apply(key, json.loads(body))

    async def _apply(self, key: str, document: dict[str, Any]) -> web.Response:
        if not key:
            return web.Response(status=400, text="Idempotency-Key is required")
        if key not in self.effects:
            self.order.append(key)
        first = self.effects.setdefault(key, document)
        if first != document:
            self.conflicts.append(key)
            return web.Response(status=422, text="Idempotency-Key reused with a different body")
        self.posts[key] += 1
        await self._touch()
        return web.json_response({"ok": True, "repeat": self.posts[key] > 1})

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _stats(self, request: web.Request) -> web.Response:
        del request
        repeats = sum(n - 1 for n in self.posts.values())
        return web.json_response(
            {"effects": len(self.effects), "repeats": repeats, "requests": len(self.arrivals)}
        )


async def _serve(secret: str, port: int) -> None:
    server = WebhookServer(secret)
    await server.start(port)
    print(f"listening on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    """Serve a fake receiver until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve(args.secret, args.port))


if __name__ == "__main__":
    main()

"""One request budget per portal for every process of this PBX: the daemon and `outbox drain`.

Bitrix24 drains its leaky bucket at 2 requests/s (burst 50) per portal, whoever sends. A daemon
and an `outbox drain` run beside it, each pacing itself alone, would together send twice what the
portal takes and collect QUERY_LIMIT_EXCEEDED. So the bucket's level lives in the adapter's state
store, which both processes share (the outbox database): each request first takes its place there.
In the process, an asyncio lock keeps the requests in order. Between processes the read and the
write are not one atomic step, so two processes asking at the same instant may both count one
request; the client's paced retry of a QUERY_LIMIT_EXCEEDED answer covers that rare overshoot.
One request of the burst is kept free for the time a counted request still travels.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from connector.crm import StateStore
from connector.sync.ratelimit import RateLimit

KEY = "bitrix24:budget:"
MAX_WAITS = 1000  # bounded: each wait is until the level has drained enough for one more request
HEADROOM = 1.0  # requests kept free: a request counted here reaches the portal a moment later


class Pacer(Protocol):
    """What the client waits on before each request."""

    rate: float

    async def acquire(self) -> None:
        """Wait for and take one request's place."""


class SharedBudget:
    """The portal's leaky bucket, its level kept in the shared state store under the portal's name."""

    def __init__(
        self,
        state: StateStore,
        portal: str,
        limit: RateLimit,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = limit.rate
        self.burst = max(1.0, float(limit.burst) - HEADROOM)
        self._state = state
        self._key = KEY + portal
        self._clock = clock  # wall time: the processes share no monotonic clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until the portal's bucket has room for one more request, then count it."""
        async with self._lock:
            for _ in range(MAX_WAITS):
                now = self._clock()
                stored = await self._state.get(self._key)
                level, at = (float(stored[0]), float(stored[1])) if isinstance(stored, list) else (0.0, now)
                level = max(0.0, level - max(0.0, now - at) * self.rate)
                if level + 1.0 <= self.burst:
                    await self._state.set(self._key, [level + 1.0, now])
                    return
                await self._sleep((level + 1.0 - self.burst) / self.rate)
            raise RuntimeError("the shared request budget never drained")  # a clock gone wrong

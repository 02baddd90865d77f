"""Per-adapter request rate limits: a token bucket that also serves as a leaky bucket.

A token bucket of `rate` tokens/s holding at most `burst` tokens admits the same requests as a
leaky bucket draining `rate`/s with room for `burst`: amoCRM's "7 requests/s" is
`RateLimit(7, 7)`, Bitrix24's "2/s drain, burst 50" is `RateLimit(2, 50)`. Adapter settings
embed `RateLimit` (e.g. `rate_limit: RateLimit = RateLimit(7, 7)`); the dispatcher reads it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """How fast one adapter may call its CRM: `rate` requests/s, `burst` at once, `concurrency` in flight."""

    rate: float
    burst: int = 1
    concurrency: int = 4

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be more than 0 requests per second")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


class TokenBucket:
    """Hands out one token per request; waits when the bucket is empty. Starts full."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = limit.rate
        self.burst = float(limit.burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = asyncio.Lock()  # waiters queue up in order instead of racing for tokens

    def wait_time(self) -> float:
        """Seconds until a token is available (0 when one is); takes it when 0."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    async def acquire(self) -> None:
        """Wait for and take one token."""
        async with self._lock:
            # Bounded: each pass waits exactly until the next token is due.
            while (delay := self.wait_time()) > 0:  # noqa: ASYNC110 - waiting on time, not on an event
                await asyncio.sleep(delay)

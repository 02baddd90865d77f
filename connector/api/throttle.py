"""Exponential back-off after failed sign-ins, in a table that cannot grow past its limit.

Each key (a client address, an account) may fail `free_failures` times; every failure after that
locks the key for `base * 2**(n - free)` seconds, at most `max_seconds`. A success clears it.
The table holds at most `max_entries` keys: when full, the key touched longest ago goes (an
attacker filling it with addresses evicts only his own stale entries first). The clock is
injected so the rules are tested without waiting.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from aiohttp import web

from connector.api.settings import ThrottleSettings


@dataclass(slots=True)
class _Entry:
    failures: int
    locked_until: float
    last_failure: float


class Backoff:
    """Failure counts and lock times per key."""

    def __init__(self, settings: ThrottleSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._entries)

    def wait(self, key: str) -> float:
        """Seconds `key` must still wait before it may try again (0 when it may try now)."""
        entry = self._live(key)
        return 0.0 if entry is None else max(0.0, entry.locked_until - self.clock())

    def failed(self, key: str) -> tuple[int, float]:
        """Count a failure of `key`; its failure count and the wait it now has."""
        now = self.clock()
        entry = self._live(key) or _Entry(0, 0.0, now)
        entry.failures += 1
        entry.last_failure = now
        over = entry.failures - self.settings.free_failures
        if over > 0:
            delay = min(self.settings.max_seconds, self.settings.base_seconds * 2 ** min(over - 1, 40))
            entry.locked_until = now + delay
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.settings.max_entries:
            self._entries.popitem(last=False)
            self.evicted += 1
        return entry.failures, max(0.0, entry.locked_until - now)

    def succeeded(self, key: str) -> None:
        """Forget `key`'s failures (a correct password)."""
        self._entries.pop(key, None)

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self.clock()
        if now - entry.last_failure > self.settings.forget_after_seconds and now >= entry.locked_until:
            del self._entries[key]
            return None
        return entry


class SignInThrottle:
    """The two tables sign-in consults: by client address and by account."""

    def __init__(self, settings: ThrottleSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.by_address = Backoff(settings, clock)
        self.by_account = Backoff(settings, clock)

    def wait(self, address: str, account: str | None) -> float:
        """How long this attempt must wait; 0 when it may be checked now."""
        waits = [self.by_address.wait(address_key(address))]
        if account is not None:
            waits.append(self.by_account.wait(account))
        return max(waits)

    def failed(self, address: str, account: str | None) -> tuple[int, float]:
        """Count a failed attempt; the highest failure count and wait among its keys."""
        count, wait = self.by_address.failed(address_key(address))
        if account is not None:  # unknown logins count only against the address
            account_count, account_wait = self.by_account.failed(account)
            count, wait = max(count, account_count), max(wait, account_wait)
        return count, wait

    def succeeded(self, address: str, account: str) -> None:
        """A correct password clears both keys."""
        self.by_address.succeeded(address_key(address))
        self.by_account.succeeded(account)


def address_key(address: str) -> str:
    """The throttling key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(request: web.Request, trusted_proxies: Collection[str] = ()) -> str:
    """The caller's address: the peer, or the last hop a trusted reverse proxy names."""
    peer = request.remote or ""
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    while hops and hops[-1] in trusted_proxies:
        hops.pop()
    return hops[-1][:64] if hops else peer

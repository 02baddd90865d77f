"""The SMS part of the running daemon: settings, the provider, the sender task, cached answers.

`configure(app, settings)` (before the app starts) puts an `SmsService` in the app and runs
the sender for as long as the app runs. The balance is cached `balance_cache` seconds and an
identical price question 60 s: SMSC.ru answers error 9 to more than ten balance or five
identical price requests a minute, and pages ask them on every visit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from adapters.builtin.sms_provider import Quote, SmsError, SmsProvider
from adapters.builtin.sms_sender import Clock, Sleep, SmsSender
from adapters.builtin.sms_settings import SmsSettings
from adapters.builtin.sms_store import SmsStore
from connector import logs

log = logs.get_logger(__name__)
ProviderFactory = Callable[[aiohttp.ClientSession, SmsSettings], SmsProvider]
QUOTE_TTL = 60.0
MAX_QUOTES = 64  # cached price answers kept


@dataclass(slots=True)
class SmsService:
    """What the SMS routes use: the settings, and once the app runs, the provider and the sender."""

    settings: SmsSettings
    clock: Clock = time.monotonic
    provider: SmsProvider | None = None
    sender: SmsSender | None = None
    _balance: tuple[float, float] | None = None  # (value, when)
    _quotes: dict[tuple[str, ...], tuple[Quote, float]] = field(default_factory=dict)

    async def balance(self) -> float | None:
        """The account's balance (cached), or None when the provider cannot say now."""
        if self.provider is None:
            return None
        now = self.clock()
        if self._balance and now - self._balance[1] < self.settings.balance_cache:
            return self._balance[0]
        try:
            value = await self.provider.balance()
        except SmsError as exc:
            log.info("sms.balance_unavailable", error=str(exc))
            return None
        self._balance = (value, now)
        return value

    async def quote(self, phones: list[str], text: str, sender: str) -> Quote | None:
        """The provider's price for `text` to `phones` (cached a minute), or None when it cannot say."""
        if self.provider is None or not phones:
            return None
        key = (text, sender, *phones)
        now = self.clock()
        cached = self._quotes.get(key)
        if cached and now - cached[1] < QUOTE_TTL:
            return cached[0]
        try:
            quote = await self.provider.quote(phones, text, sender)
        except SmsError as exc:
            log.info("sms.quote_unavailable", error=str(exc))
            return None
        if len(self._quotes) >= MAX_QUOTES:
            self._quotes.clear()
        self._quotes[key] = (quote, now)
        return quote

    def wake(self) -> None:
        """Tell the sender there is something new to send."""
        if self.sender is not None:
            self.sender.wake()


SMS_KEY = web.AppKey("builtin_sms", SmsService)


def configure(
    app: web.Application,
    settings: SmsSettings,
    store: SmsStore | Callable[[], SmsStore],
    *,
    provider: ProviderFactory | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    run_sender: bool = True,
) -> SmsService:
    """Mount the SMS service on `app` and run its sender while the app runs (call before start).

    `run_sender=False` (tests) makes the sender but leaves driving it (`step()`) to the caller.
    """
    from adapters.builtin.sms_smsc import SmscProvider

    service = SmsService(settings, clock)
    app[SMS_KEY] = service
    make = provider or SmscProvider

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        sms = store() if callable(store) else store
        async with aiohttp.ClientSession() as session:
            service.provider = make(session, settings)
            service.sender = SmsSender(sms, service.provider, settings, clock=clock, sleep=sleep)
            task = asyncio.create_task(service.sender.run(), name="sms-sender") if run_sender else None
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                service.sender = None
                service.provider = None

    app.cleanup_ctx.append(lifetime)
    return service

"""Portal click-to-call without inbound HTTP: ONEXTERNALCALLSTART and ONEXTERNALCALLBACKSTART as
offline events, read with `event.offline.get`.

A PBX behind NAT cannot take the portal's event POSTs. Offline events wait in a queue on the
portal instead (b24restdocs: events/offline-events, event.bind with event_type=offline, which
needs an application authorised by an administrator); the poller reads up to 50 at a time with
clear=1 every `offline_poll_seconds` and hands each to the same code the online webhook uses.
Each poll is one request out of the portal's 2 requests/s: 5 s costs a tenth of the budget.

The poller is owned by the daemon's HTTP app (started on its start-up, cancelled on its
clean-up), so `outbox drain`, which never serves HTTP, never places calls.

ONEXTERNALCALLBACKSTART (the CRM callback form): the client is called back through the PBX:
`callback_extension` (a queue or an extension) rings first, then the client's number is dialled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connector import logs
from connector.errors import AdapterError, CallControlError, NotPermittedError

if TYPE_CHECKING:
    from adapters.bitrix24.adapter import Bitrix24Adapter

log = logs.get_logger(__name__)

START, CALLBACK = "ONEXTERNALCALLSTART", "ONEXTERNALCALLBACKSTART"
EVENTS = (START, CALLBACK)
BATCH = 50  # events per event.offline.get (the method's default)
MAX_BACKOFF = 300.0


async def bind(adapter: Bitrix24Adapter) -> None:
    """Bind both events as offline events unless they already are (a restart binds nothing)."""
    bound = await adapter.client.call("event.get")
    have = {
        str(e.get("event", "")).upper()
        for e in bound or []
        if isinstance(e, dict) and str(e.get("offline", "0")) in ("1", "True", "true")
    }
    for event in EVENTS:
        if event not in have:
            await adapter.client.call("event.bind", {"event": event, "event_type": "offline"})


async def poll_once(adapter: Bitrix24Adapter) -> int:
    """Read and clear one page of the queue and act on each event; how many there were."""
    answer = await adapter.client.call("event.offline.get", {"limit": BATCH, "clear": 1})
    events = answer.get("events") if isinstance(answer, dict) else None
    handled = 0
    for event in events or []:
        if isinstance(event, dict):
            await dispatch(adapter, str(event.get("EVENT_NAME", "")).upper(), event.get("EVENT_DATA"))
            handled += 1
    return handled


async def dispatch(adapter: Bitrix24Adapter, name: str, data: Any) -> None:
    """One portal event, whether it came online (webhook) or from the offline queue."""
    from adapters.bitrix24.webhook import start_from_portal

    fields = {str(k).upper(): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    if name == START:
        await start_from_portal(adapter, fields)
    elif name == CALLBACK:
        await callback(adapter, fields)


async def callback(adapter: Bitrix24Adapter, data: dict[str, str]) -> str | None:
    """The CRM callback form: ring `callback_extension`, then dial the client; the conversation id."""
    number = data.get("PHONE_NUMBER", "")
    extension = adapter.settings.callback_extension
    control = adapter.context.call_control
    if not number or not extension or control is None:
        log.warning(
            "bitrix24.callback_not_placed",
            reason="no number" if not number else "callback_extension is not set" if not extension
            else "call control is not available",
        )  # fmt: skip
        return None
    try:
        conversation: str | None = await control.originate(extension, number)
    except (NotPermittedError, CallControlError) as exc:
        log.warning("bitrix24.callback_refused", extension=extension, error=str(exc))
        return None
    log.info("bitrix24.callback", extension=extension, conversation=conversation)
    return conversation


class Poller:
    """The offline-event loop of one adapter."""

    def __init__(self, adapter: Bitrix24Adapter) -> None:
        self.adapter = adapter
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Bind, then poll until cancelled; failures back off (a portal down, an app not installed)."""
        interval = self.adapter.settings.offline_poll_seconds
        delay, bound = interval, False
        while True:
            try:
                if not bound:
                    await bind(self.adapter)
                    bound = True
                while await poll_once(self.adapter) == BATCH:
                    pass  # a full page: more are waiting
                delay = interval
            except AdapterError as exc:
                delay = min(MAX_BACKOFF, max(delay, interval) * 2)
                log.warning("bitrix24.offline_events_failed", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Poll while the context is open."""
        self.task = asyncio.create_task(self.run(), name="bitrix24-offline-events")
        try:
            yield
        finally:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


def attach(adapter: Bitrix24Adapter, app: web.Application) -> None:
    """Run the poller for as long as the daemon's HTTP app runs."""
    poller = Poller(adapter)

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        async with poller.running():
            yield

    app.cleanup_ctx.append(lifetime)

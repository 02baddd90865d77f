"""ONEXTERNALCALLSTART: click-to-call from the portal, rung employee first, then the client.

The portal has already registered the call (data[CALL_ID]) for the user who clicked, so the
connector must not register it again: the CALL_ID is parked under the employee's extension and
the number (`bitrix24:c2c:<ext>:<last 10 digits>`) before the PBX is asked to originate, and the
first live event of that outgoing call adopts it; `finish` then closes it under that CALL_ID.

For the call-control engineer — what this route needs from `AdapterContext.call_control`:

    class CallControl(Protocol):
        async def originate(
            self, extension: str, number: str, *, crm_call_id: str | None = None
        ) -> str | None

Ring `extension` first and, once answered, dial `number` (the client, E.164 or as given);
enforce the configured extensions and number patterns (raise `NotPermittedError`), raise
`CallControlError` when Asterisk refuses. Return the conversation id (linkedid) when it is known
at once, else None — the pending CALL_ID is adopted by the first live event either way.
Events are never retried by Bitrix24, so the route answers at once with what happened.
"""

from __future__ import annotations

import hmac
import time
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from adapters.bitrix24.install import application_token
from adapters.bitrix24.telephony import Registration, pending_key, save
from connector import logs
from connector.errors import CallControlError, NotPermittedError, UnsafeValueError

if TYPE_CHECKING:
    from adapters.bitrix24.adapter import Bitrix24Adapter

log = logs.get_logger(__name__)

EVENT = "ONEXTERNALCALLSTART"
CALLBACK_EVENT = "ONEXTERNALCALLBACKSTART"  # the CRM callback form (adapters.bitrix24.offline)
SEEN_CALL_IDS = 4096  # CALL_IDs remembered per adapter: the portal may deliver one event twice
# CALL_IDs being or already originated, per adapter; checked and added with no await in between,
# so three copies of one event arriving together place one call.
_started: weakref.WeakKeyDictionary[Bitrix24Adapter, OrderedDict[str, None]] = weakref.WeakKeyDictionary()


class CallControl(Protocol):
    """The narrow part of call control that portal click-to-call needs."""

    async def originate(self, extension: str, number: str, *, crm_call_id: str | None = None) -> str | None:
        """Ring `extension`, then dial `number`; the conversation id when known at once."""


def routes(adapter: Bitrix24Adapter) -> list[web.RouteDef]:
    """The aiohttp routes to add to the daemon's app (path from `webhook_path`)."""

    async def handle(request: web.Request) -> web.Response:
        return await on_external_call_start(adapter, request)

    return [web.post(adapter.settings.webhook_path, handle)]


async def on_external_call_start(adapter: Bitrix24Adapter, request: web.Request) -> web.Response:
    """Verify the application token, park the portal's CALL_ID, and originate the call."""
    form = await request.post()
    expected = await application_token(adapter)
    given = str(form.get("auth[application_token]", ""))
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("bitrix24.webhook_refused", reason="application token mismatch")
        return web.json_response({"error": "invalid application token"}, status=401)
    event = str(form.get("event", "")).upper()
    data = {
        key[5:-1]: str(value) for key, value in form.items() if key.startswith("data[") and key.endswith("]")
    }
    if event == CALLBACK_EVENT:
        from adapters.bitrix24.offline import callback

        conversation = await callback(adapter, data)
        return web.json_response({"result": "originated" if conversation is not None else "not placed"})
    if event != EVENT:
        return web.json_response({"result": "ignored"})
    return await _start(adapter, data)


async def start_from_portal(adapter: Bitrix24Adapter, data: dict[str, str]) -> None:
    """ONEXTERNALCALLSTART read from the offline queue: the same checks and origination."""
    answer = await _start(adapter, data)
    if answer.status >= 400:
        log.warning("bitrix24.click_to_call_refused", status=answer.status, answer=answer.text)


async def _start(adapter: Bitrix24Adapter, data: dict[str, str]) -> web.Response:
    call_id, user_id = data.get("CALL_ID", ""), data.get("USER_ID", "")
    number = data.get("PHONE_NUMBER_INTERNATIONAL") or data.get("PHONE_NUMBER") or ""
    if not call_id or not number:
        return web.json_response({"error": "CALL_ID and PHONE_NUMBER are required"}, status=400)
    await adapter.directory.ensure_fresh()
    extension = adapter.directory.extension_for(user_id) or data.get("EXTENSION") or ""
    control: CallControl | None = adapter.context.call_control
    if not extension:
        return web.json_response({"error": f"portal user {user_id} has no extension"}, status=422)
    if control is None:
        return web.json_response({"error": "call control is not available"}, status=503)
    started = _started.setdefault(adapter, OrderedDict())
    if call_id in started:
        log.info("bitrix24.click_to_call_duplicate", call_id=call_id)
        return web.json_response({"result": "duplicate", "call_id": call_id})
    started[call_id] = None
    while len(started) > SEEN_CALL_IDS:
        started.popitem(last=False)
    try:
        return await _originate(adapter, control, extension, number, call_id=call_id, user_id=user_id)
    except BaseException:
        started.pop(call_id, None)  # not placed: the same CALL_ID may be tried again
        raise


async def _originate(
    adapter: Bitrix24Adapter, control: CallControl, extension: str, number: str, *, call_id: str, user_id: str
) -> web.Response:
    pending = {"call_id": call_id, "user_id": user_id, "at": time.time()}
    await adapter.context.state.set(pending_key(extension, number), pending)
    try:
        conversation = await control.originate(extension, number, crm_call_id=call_id)
    except BaseException as exc:
        await adapter.context.state.delete(pending_key(extension, number))  # no stale row, whatever
        if isinstance(exc, UnsafeValueError):
            return web.json_response({"error": str(exc)}, status=400)
        if isinstance(exc, NotPermittedError):
            return web.json_response({"error": str(exc)}, status=403)
        if isinstance(exc, CallControlError):
            return web.json_response({"error": str(exc)}, status=502)
        raise
    if conversation:
        record = Registration(call_id=call_id, user_id=user_id, external=True)
        await save(adapter.context.state, conversation, record)
        await adapter.context.state.delete(pending_key(extension, number))
    log.info("bitrix24.click_to_call", extension=extension, conversation=conversation)
    return web.json_response({"result": "originated", "conversation": conversation})

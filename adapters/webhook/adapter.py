"""The webhook adapter: what is sent for each kind of job (the HTTP lives in `client`)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from adapters.webhook.client import WebhookClient
from connector.calls.model import Call, Direction, LiveEvent
from connector.crm import Adapter, AdapterContext, Capability, Contact, JobKind
from connector.errors import PermanentError

if TYPE_CHECKING:
    from adapters.webhook import Settings

EVENTS = {
    JobKind.LOG_CALL: "call.finished",
    JobKind.ATTACH_RECORDING: "call.recording",
    JobKind.LIVE: "call.live",
}


class WebhookAdapter(Adapter):
    """POSTs calls, recording links and (optionally) live events as signed JSON."""

    def __init__(self, settings: Settings, context: AdapterContext) -> None:
        super().__init__(context)
        self.settings = settings
        self.client = WebhookClient(
            context.session,
            settings.url,
            settings.secret.get(),
            settings.timeout,
            context.name,
            token=settings.token.get(),
        )
        capabilities = {Capability.LOG_CALL}
        if settings.lookup_url:
            capabilities.add(Capability.LOOKUP)
        if settings.recordings:
            capabilities.add(Capability.RECORDING)
        if settings.live_events:
            capabilities.add(Capability.LIVE)
        self.capabilities = frozenset(capabilities)

    async def lookup(self, phone: str) -> Contact | None:
        """The receiver's contact for `phone` (with `lookup_url`), or None."""
        if not self.settings.lookup_url:
            return None
        answer = await self.client.get_json(self.settings.lookup_url, {"phone": phone})
        found = answer.get("contact") if isinstance(answer, dict) else None
        if not isinstance(found, dict) or not found.get("id"):
            return None
        extension = found.get("responsible_extension")
        user = found.get("responsible_user_id")
        return Contact(
            id=str(found["id"]),
            name=str(found.get("name") or ""),
            kind=str(found.get("kind") or "contact"),
            responsible_user_id=None if user is None else str(user),
            responsible_extension=None if extension in (None, "") else str(extension),
            url=found.get("url") if isinstance(found.get("url"), str) else None,
        )

    def wants_call(self, call: Call) -> bool:
        """Every external call; internal ones only when asked for."""
        return self.settings.internal_calls or call.direction is not Direction.INTERNAL

    def wants_live(self, event: LiveEvent) -> bool:
        """Live events when asked for; internal calls' only with `internal_calls`."""
        if Capability.LIVE not in self.capabilities:
            return False
        return self.settings.internal_calls or event.direction is not Direction.INTERNAL

    async def perform(self, kind: JobKind, payload: dict[str, Any]) -> None:
        """Send one job's body; the receiver decides nothing else, so no primitives are needed."""
        if kind not in EVENTS:
            raise PermanentError(f"the webhook adapter does not do {kind} jobs", adapter=self.name)
        key = self.key_for(kind, payload)
        body = self.body(kind, payload, key)
        await self.client.post(json.dumps(body, ensure_ascii=False).encode(), key=key, event=EVENTS[kind])

    def body(self, kind: JobKind, payload: dict[str, Any], key: str) -> dict[str, Any]:
        """The JSON document sent for a job."""
        document: dict[str, Any] = {"event": EVENTS[kind], "key": key}
        if kind is JobKind.LIVE:
            document["live"] = payload
        elif kind is JobKind.LOG_CALL:
            document["call"] = payload
        else:
            path = payload.get("recording")
            if not path:
                raise PermanentError("the call has no recording", adapter=self.name)
            document["call_id"] = payload["id"]
            document["recording"] = {"file": os.path.basename(path), "url": self.context.recording_url(path)}
        return document

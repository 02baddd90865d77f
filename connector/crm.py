"""The adapter contract: what the connector's core knows about any CRM, owned by the core.

The core (outbox, dispatcher, routing, service) calls this interface and the adapters under
`adapters/` implement it, so dependencies point one way: adapters import `connector.crm`, the core
never imports an adapter's code (tests/unit/test_layers.py checks it).

An adapter translates finished calls and live events into one CRM's API. It maps every
vendor error at its boundary to one of three kinds (see `connector.errors`):
`TransientError` (retry later), `AuthError` (park the adapter, alert, refresh) or
`PermanentError` (dead-letter with the CRM's own message) — always `raise ... from`.

The outbox turns each finished call into jobs (`jobs_for`), one per kind, and the dispatcher
runs them through `perform`. Subclasses implement the small primitives they support and
declare them in `capabilities`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from connector.calls.model import Call, Direction, Disposition, LiveEvent, call_from_dict, live_from_dict
from connector.errors import PermanentError


class Capability(enum.StrEnum):
    """What an adapter can do."""

    LOOKUP = "lookup"
    LOG_CALL = "log_call"
    RECORDING = "attach_recording"
    UNSORTED = "create_unsorted"
    LIVE = "live"
    CLICK_TO_CALL = "click_to_call"


class JobKind(enum.StrEnum):
    """The kinds of outbox job; the order is the order jobs of one conversation run in."""

    LIVE = "live"
    CREATE_UNSORTED = "create_unsorted"
    LOG_CALL = "log_call"
    ATTACH_RECORDING = "attach_recording"


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The one JSON spelling of a payload (sorted keys, no spaces), so equal payloads hash equal."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def job_key(adapter: str, kind: JobKind, payload: Mapping[str, Any]) -> str:
    """The idempotency key of a job: the same call (or live event) always gives the same key.

    Call jobs: `<adapter>:<conversation id>:<kind>`. Live jobs: `<adapter>:<call_id>:live:<hash>`
    because one call has many live events (rang at 201, answered by 202, ...). The key makes the
    outbox run a job once; it does not make the CRM side idempotent when an answer is lost. Only
    some CRMs deduplicate: Bitrix24 returns the same CALL_ID to a repeated register with the same
    `EXTERNAL_CALL_ID` within 30 minutes, and the webhook adapter sends the key as a header.
    amoCRM does not: its `request_id` is echoed in the answer but never stored, and two calls with
    one `uniq` are both kept — the amoCRM adapter records its intent and looks up what exists
    before sending again (adapters/amocrm/recovery.py).
    """
    if kind is JobKind.LIVE:
        digest = hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:16]
        return f"{adapter}:{payload['call_id']}:live:{digest}"
    return f"{adapter}:{payload['id']}:{kind.value}"


@dataclass(frozen=True, slots=True)
class Contact:
    """A CRM party matched by phone number, with its responsible employee."""

    id: str
    name: str
    phones: tuple[str, ...] = ()
    kind: str = "contact"  # contact / company / lead / client ... in the CRM's words
    responsible_user_id: str | None = None
    responsible_extension: str | None = None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StateStore(Protocol):
    """Durable key → JSON value storage an adapter uses for tokens and CRM-side ids."""

    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""

    async def set(self, key: str, value: Any) -> None:
        """Store `value` durably (committed when this returns)."""

    async def delete(self, key: str) -> None:
        """Forget `key`."""


class MemoryState:
    """A `StateStore` kept in memory, for tests and replays."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""
        return self.data.get(key)

    async def set(self, key: str, value: Any) -> None:
        """Store `value`."""
        self.data[key] = value

    async def delete(self, key: str) -> None:
        """Forget `key`."""
        self.data.pop(key, None)


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What the service hands each adapter: injected, never created inside the adapter."""

    name: str
    session: aiohttp.ClientSession
    state: StateStore
    recording_url: Callable[[str], str] = lambda path: ""  # signed, expiring link for a recording
    call_control: Any = None  # the call-control service, for click-to-call entry points
    push_internal: bool = False  # calls.push_internal: internal calls reach this CRM too


class Adapter:
    """Base of every CRM adapter: shared job routing; subclasses supply the primitives."""

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.name = context.name

    # -- what the outbox asks -------------------------------------------------------------

    def key_for(self, kind: JobKind, payload: Mapping[str, Any]) -> str:
        """The idempotency key of the job `perform(kind, payload)` is running (see `job_key`)."""
        return job_key(self.name, kind, payload)

    def jobs_for(self, call: Call) -> list[JobKind]:
        """The jobs a finished call makes for this adapter, in the order they must run."""
        jobs: list[JobKind] = []
        if Capability.UNSORTED in self.capabilities and self.wants_unsorted(call):
            jobs.append(JobKind.CREATE_UNSORTED)
        if Capability.LOG_CALL in self.capabilities and self.wants_call(call):
            jobs.append(JobKind.LOG_CALL)
        if Capability.RECORDING in self.capabilities and call.recording and self.wants_call(call):
            jobs.append(JobKind.ATTACH_RECORDING)
        return jobs

    def wants_call(self, call: Call) -> bool:
        """Whether this CRM hears of `call` at all (internal calls only with `push_internal`)."""
        return call.direction is not Direction.INTERNAL or self.context.push_internal

    def wants_unsorted(self, call: Call) -> bool:
        """Whether `call` may create an unsorted lead (incoming, any disposition)."""
        return call.direction is Direction.INBOUND and call.disposition in (
            Disposition.ANSWERED,
            Disposition.MISSED,
        )

    def wants_live(self, event: LiveEvent) -> bool:
        """Whether a live event becomes a (durable) job for this adapter."""
        return Capability.LIVE in self.capabilities and event.direction is not Direction.INTERNAL

    async def perform(self, kind: JobKind, payload: dict[str, Any]) -> None:
        """Run one outbox job; `payload` is `Call.to_dict()` or `LiveEvent.to_dict()`."""
        handlers: dict[JobKind, Callable[[dict[str, Any]], Awaitable[None]]] = {
            JobKind.LIVE: lambda p: self.on_live(live_from_dict(p)),
            JobKind.CREATE_UNSORTED: lambda p: self.create_unsorted(call_from_dict(p)),
            JobKind.LOG_CALL: lambda p: self.log_call(call_from_dict(p)),
            JobKind.ATTACH_RECORDING: self._attach,
        }
        await handlers[kind](payload)

    async def _attach(self, payload: dict[str, Any]) -> None:
        call = call_from_dict(payload)
        if call.recording is None:
            raise PermanentError("the call has no recording", adapter=self.name)
        await self.attach_recording(call, call.recording)

    # -- primitives a CRM supplies ------------------------------------------------------------

    async def lookup(self, phone: str) -> Contact | None:
        """The CRM party with this E.164 number, or None."""
        return None

    async def log_call(self, call: Call) -> None:
        """File a finished call in the CRM."""

    async def attach_recording(self, call: Call, path: str) -> None:
        """Attach (or link) the recording at `path` to the call already logged."""

    async def create_unsorted(self, call: Call) -> None:
        """Create the CRM's 'unsorted' entry or entities for an unknown caller."""

    async def on_live(self, event: LiveEvent) -> None:
        """React to a live call event (ring-time registration, screen pop)."""

    def mount(self, app: web.Application) -> None:
        """Add the routes this CRM calls us on (widget, webhooks) to the daemon's HTTP app."""

    async def start(self) -> None:
        """Prepare (e.g. read the user list); raise `TransientError` if the CRM is not ready."""

    async def aclose(self) -> None:
        """Release what the adapter holds; the HTTP session belongs to the caller."""

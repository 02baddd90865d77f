"""Many PBXs, one CRM: call control for an extension goes to the PBX that owns it.

The CRM's own connector serves its PBX; every other office runs its own connector, which
delivers calls here (`adapters.webhook` into `/api/crm/ingest`) and takes call control through
its HTTP API (`/api/calls/...`, a service token issued on that connector). The `offices:`
section names each remote office, its connector's URL and that token:

    offices:
      - pbx: spb                      # the remote connector's `pbx.id`
        url: http://10.0.2.5:8088     # its HTTP API
        token: ${SPB_CONTROL_TOKEN}   # one of its `http.tokens`
        extensions: ['2\\d\\d']       # optional: extensions it owns by pattern

Which office owns an extension: a pattern of `extensions` first, else the owner resolver the
built-in CRM plugs in (the employee's office), else this PBX. Refusals coming back from the
remote connector keep their meaning (403 → `NotPermittedError`, 404 → `CallNotFoundError`,
409 → `CallControlError`, 429 → `TooManyCallsError`, 5xx or no answer → `PbxUnavailableError`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from connector import logs
from connector.calls.model import TransferKind
from connector.errors import (
    CallControlError,
    CallNotFoundError,
    NotPermittedError,
    PbxUnavailableError,
    TooManyCallsError,
)
from connector.settings_schema import Secret

log = logs.get_logger(__name__)

PBX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
MAX_OFFICES = 200
MAX_ANSWER = 64 * 1024  # a problem+json answer is small; more is not read

# The office an extension belongs to ('' or None: this PBX), as the CRM knows it.
OwnerResolver = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class OfficeSettings:
    """One remote office (an item of `offices:`)."""

    pbx: str
    url: str
    token: Secret
    extensions: tuple[str, ...] = ()
    timeout: float = 5.0
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not PBX_ID.fullmatch(self.pbx):
            raise ValueError("pbx must be 1-32 letters, digits, '.', '_' or '-'")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if len(self.token.get()) < 16:
            raise ValueError("token must be the remote connector's API token (16 characters or more)")
        if not 0 < self.timeout <= 60:
            raise ValueError("timeout must be more than 0 and at most 60 seconds")
        try:
            patterns = tuple(re.compile(p) for p in self.extensions)
        except re.error as exc:
            raise ValueError(f"extensions: not a regular expression: {exc}") from exc
        object.__setattr__(self, "_patterns", patterns)

    def owns(self, extension: str) -> bool:
        """Whether one of `extensions` matches the whole extension."""
        return any(p.fullmatch(extension) for p in self._patterns)


def check_offices(offices: tuple[OfficeSettings, ...], local: str) -> None:
    """Offices are distinct, bounded, and none of them is this connector's own PBX."""
    if len(offices) > MAX_OFFICES:
        raise ValueError(f"at most {MAX_OFFICES} offices")
    names = [o.pbx for o in offices]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ValueError(f"office {doubled[0]!r} is listed twice")
    if local in names:
        raise ValueError(f"office {local!r} is this connector's own pbx.id")


class RemoteControl:
    """Call control of one remote office, through its connector's HTTP API."""

    def __init__(self, settings: OfficeSettings, session: Callable[[], aiohttp.ClientSession]) -> None:
        self.settings = settings
        self._session = session

    async def originate(self, extension: str, number: str, *, crm_call_id: str | None = None) -> str:
        """Click-to-call on the remote PBX; the conversation id it gave the call."""
        body: dict[str, Any] = {"extension": extension, "number": number}
        if crm_call_id:
            body["crm_call_id"] = crm_call_id
        answer = await self._post("/api/calls/originate", body)
        conversation = answer.get("conversation")
        if not isinstance(conversation, str) or not conversation:
            raise PbxUnavailableError(f"office {self.settings.pbx}: no conversation id in its answer")
        return conversation

    async def hangup(self, extension: str) -> None:
        """Hang up the employee's call on the remote PBX."""
        await self._post("/api/calls/hangup", {"extension": extension})

    async def transfer(self, extension: str, target: str, kind: TransferKind) -> None:
        """Transfer on the remote PBX."""
        await self._post(
            "/api/calls/transfer", {"extension": extension, "target": target, "kind": kind.value}
        )

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        url = s.url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {s.token.get()}"}
        try:
            async with asyncio.timeout(s.timeout):
                async with self._session().post(url, json=body, headers=headers) as response:
                    text = (await response.content.read(MAX_ANSWER)).decode("utf-8", "replace")
                    status = response.status
                    retry = response.headers.get("Retry-After", "")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise PbxUnavailableError(f"office {s.pbx} is not reachable: {exc or 'timed out'}") from exc
        answer = _json(text)
        if status < 300:
            log.info("offices.forwarded", office=s.pbx, path=path, extension=body.get("extension"))
            return answer
        raise _refusal(s.pbx, status, str(answer.get("detail") or text[:200]), retry)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _refusal(office: str, status: int, detail: str, retry_after: str) -> CallControlError:
    """The remote connector's refusal as the error the local one would have raised."""
    message = f"office {office}: {detail}"
    if status == 429:
        seconds = float(retry_after) if retry_after.isdigit() else 1.0
        return TooManyCallsError(message, seconds)
    if status in (401, 403):
        # 401: this CRM's token for that office is wrong: an admin's fix, not the employee's.
        return NotPermittedError(message if status == 403 else f"office {office} refused this CRM's token")
    if status == 404:
        return CallNotFoundError(message)
    if status >= 500:
        return PbxUnavailableError(message)
    return CallControlError(message)


class Offices:
    """Which office owns an extension, and the remote call control of each office."""

    def __init__(
        self,
        offices: tuple[OfficeSettings, ...] = (),
        session: Callable[[], aiohttp.ClientSession] | None = None,
    ) -> None:
        self.settings = offices
        self._owned_session: aiohttp.ClientSession | None = None
        make = session or self._session
        self.remotes: Mapping[str, RemoteControl] = {o.pbx: RemoteControl(o, make) for o in offices}
        self.owner: OwnerResolver | None = None  # plugged in by the built-in CRM

    def __bool__(self) -> bool:
        return bool(self.remotes)

    async def remote_for(self, extension: str) -> RemoteControl | None:
        """The remote office owning `extension`, or None when this PBX owns it."""
        if not self.remotes:
            return None
        office = next((o.pbx for o in self.settings if o.owns(extension)), None)
        if office is None and self.owner is not None:
            office = await self.owner(extension)
        if not office or office not in self.remotes:
            # An employee placed in an office this connector has no `offices:` entry for is
            # served by this PBX (where the extension may well exist), never refused silently.
            return None
        return self.remotes[office]

    def _session(self) -> aiohttp.ClientSession:
        if self._owned_session is None or self._owned_session.closed:
            self._owned_session = aiohttp.ClientSession()
        return self._owned_session

    async def close(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._owned_session is not None:
            await self._owned_session.close()

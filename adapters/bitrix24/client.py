"""The Bitrix24 REST client: every request paced by the portal's leaky bucket (2/s, burst 50).

Lookups for routing do not go through the outbox, so the client paces itself: a bucket with the
portal's rate and burst admits exactly what the portal's leaky bucket does — `SharedBudget`
(adapters.bitrix24.budget), whose level the daemon and `outbox drain` share.

Everything the portal can answer is mapped here, at the boundary: `expired_token` refreshes
and retries once (OAuth), a 302 means the portal moved (followed and remembered), and every
other refusal becomes the adapter error kind from `adapters.bitrix24.errors`. Messages never
carry the URL, which holds a webhook's secret code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from adapters.bitrix24.auth import Auth
from adapters.bitrix24.budget import Pacer
from adapters.bitrix24.errors import Bitrix24ApiError, parse, to_adapter_error
from adapters.bitrix24.query import command
from connector import logs
from connector.errors import PermanentError, TransientError

log = logs.get_logger(__name__)

MAX_BATCH = 50
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The answers of one `batch`: results and errors by command key."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)


class Bitrix24Client:
    """Calls REST methods on one portal; the aiohttp session is the caller's."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: Auth,
        bucket: Pacer,
        *,
        timeout: float = 15.0,
        adapter: str = "bitrix24",
    ) -> None:
        self._session = session
        self._auth = auth
        self._bucket = bucket
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._adapter = adapter

    @property
    def auth(self) -> Auth:
        """How this client proves who it is (the install handler stores an app's first tokens)."""
        return self._auth

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """The `result` of `method` called with `params`."""
        payload = await self.call_raw(method, params or {})
        return payload.get("result")

    async def call_raw(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The whole answer of `method` (`result`, `next`, `total`, `time`)."""
        refreshed = moves = limited = 0
        while True:
            token = await self._auth.token()
            try:
                return await self._once(method, params, token)
            except _Moved as moved:
                moves += 1
                if moves > 2:
                    raise PermanentError(
                        f"{method}: the portal keeps redirecting", adapter=self._adapter
                    ) from None
                try:
                    await self._auth.moved(moved.location)
                except ValueError as exc:
                    raise PermanentError(
                        f"{method}: redirected without a usable Location", adapter=self._adapter
                    ) from exc
                log.warning("bitrix24.portal_moved", adapter=self._adapter)
            except Bitrix24ApiError as exc:
                if exc.code == "expired_token" and self._auth.can_refresh and not refreshed:
                    refreshed += 1
                    await self._auth.refresh(token)
                    continue
                if exc.code == "QUERY_LIMIT_EXCEEDED" and not limited:
                    # Our bucket matches the portal's, so this is jitter or another app sharing
                    # the portal: one paced retry is cheaper than a trip through the outbox.
                    limited += 1
                    await asyncio.sleep(exc.retry_after or 1.0 / self._bucket.rate)
                    continue
                raise to_adapter_error(exc, method, self._adapter, self._auth.secrets()) from exc

    async def _once(self, method: str, params: Mapping[str, Any], token: str | None) -> dict[str, Any]:
        await self._bucket.acquire()
        url = f"{await self._auth.base_url()}{method}.json"
        body = dict(params)
        if token:
            body["auth"] = token
        try:
            async with self._session.post(
                url, json=body, timeout=self._timeout, allow_redirects=False
            ) as resp:
                if resp.status in _REDIRECTS:
                    raise _Moved(resp.headers.get("Location", ""))
                text = await resp.text()
                return parse(resp.status, text, resp.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise TransientError(
                f"{method}: no answer in {self._timeout.total}s", adapter=self._adapter
            ) from exc
        except aiohttp.ClientError as exc:
            # str(exc) may contain the URL, and with it the webhook's secret code.
            raise TransientError(f"{method}: {type(exc).__name__}", adapter=self._adapter) from exc

    async def batch(
        self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], halt: bool = False
    ) -> BatchResult:
        """Run up to 50 commands in one request; later ones may use `$result[key][FIELD]`."""
        if not commands:
            return BatchResult()
        if len(commands) > MAX_BATCH:
            raise ValueError(f"a batch takes at most {MAX_BATCH} commands, got {len(commands)}")
        cmd = {key: command(method, params) for key, (method, params) in commands.items()}
        result = await self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd})
        result = result if isinstance(result, dict) else {}
        return BatchResult(
            results=_as_dict(result.get("result")), errors=_as_dict(result.get("result_error"))
        )

    async def list_all(self, method: str, params: Mapping[str, Any], limit: int = 5000) -> list[Any]:
        """Every page of a list method (50 a page), bounded by `limit` items."""
        items: list[Any] = []
        start: int | None = 0
        while start is not None and len(items) < limit:
            payload = await self.call_raw(method, {**params, "start": start})
            page = payload.get("result")
            items.extend(page if isinstance(page, list) else [])
            nxt = payload.get("next")
            start = (
                int(nxt) if isinstance(nxt, int | str) and str(nxt).isdigit() and int(nxt) > start else None
            )
        return items

    async def upload(self, url: str, field_name: str, filename: str, content: bytes) -> Any:
        """POST a file to an `uploadUrl` the portal handed out (attachRecord's large-file flow)."""
        await self._bucket.acquire()
        form = aiohttp.FormData()
        form.add_field(field_name, content, filename=filename, content_type="application/octet-stream")
        try:
            async with self._session.post(
                url, data=form, timeout=self._timeout, allow_redirects=False
            ) as resp:
                payload = parse(resp.status, await resp.text(), resp.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise TransientError("upload: no answer in time", adapter=self._adapter) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"upload: {type(exc).__name__}", adapter=self._adapter) from exc
        except Bitrix24ApiError as exc:
            raise to_adapter_error(exc, "upload", self._adapter, self._auth.secrets()) from exc
        return payload.get("result")


class _Moved(Exception):
    def __init__(self, location: str) -> None:
        super().__init__("moved")
        self.location = location


def _as_dict(value: Any) -> dict[str, Any]:
    # PHP sends an empty associative array as [] in JSON.
    return dict(value) if isinstance(value, dict) else {}

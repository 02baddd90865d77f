"""A recording fake adapter: a real `Adapter` that remembers every job and can be scripted to fail.

    adapter = RecordingAdapter(context("crm"))
    adapter.fail_next(TransientError("down", retry_after=1.0), times=2)   # any kind
    adapter.fail_next(PermanentError("no such user"), kind=JobKind.ATTACH_RECORDING)
    ... run the dispatcher ...
    adapter.done  → [(kind, key), ...] in the order they succeeded

`hold` (an asyncio.Event, cleared) keeps every perform waiting until it is set, to catch work
in flight; `started` counts performs that have begun.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import aiohttp

from connector.calls.model import Call
from connector.crm import Adapter, AdapterContext, Capability, JobKind, MemoryState
from connector.errors import AdapterError


def context(name: str, session: aiohttp.ClientSession | None = None) -> AdapterContext:
    """A context with in-memory state; the session is unused by this fake."""
    return AdapterContext(name=name, session=session, state=MemoryState())  # type: ignore[arg-type]


class RecordingAdapter(Adapter):
    """Does every kind of job by writing it down; fails when told to."""

    capabilities = frozenset(
        {Capability.LOG_CALL, Capability.RECORDING, Capability.UNSORTED, Capability.LIVE, Capability.LOOKUP}
    )

    def __init__(self, ctx: AdapterContext, *, unsorted: bool = False) -> None:
        super().__init__(ctx)
        self.unsorted = unsorted
        self.done: list[tuple[JobKind, str]] = []
        self.tries: list[tuple[JobKind, str]] = []
        self.script: collections.deque[tuple[JobKind | None, AdapterError | Exception]] = collections.deque()
        self.hold: asyncio.Event | None = None
        self.started = 0
        self.changed = asyncio.Condition()

    def wants_unsorted(self, call: Call) -> bool:
        """Only when built with `unsorted=True` (keeps most tests to log + recording)."""
        return self.unsorted and super().wants_unsorted(call)

    def fail_next(
        self, error: AdapterError | Exception, *, kind: JobKind | None = None, times: int = 1
    ) -> None:
        """Raise `error` for the next `times` jobs (of `kind`, or of any kind)."""
        for _ in range(times):
            self.script.append((kind, error))

    async def perform(self, kind: JobKind, payload: dict[str, Any]) -> None:
        """Record the job, or raise the scripted error."""
        key = self.key_for(kind, payload)
        self.started += 1
        self.tries.append((kind, key))
        await self._notify()
        if self.hold is not None:
            await self.hold.wait()
        for index, (wanted, error) in enumerate(self.script):
            if wanted is None or wanted is kind:
                del self.script[index]
                raise error
        self.done.append((kind, key))
        await self._notify()

    async def wait_done(self, count: int) -> None:
        """Until `count` jobs have succeeded."""
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.done) >= count)

    async def wait_started(self, count: int) -> None:
        """Until `count` performs have begun."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.started >= count)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

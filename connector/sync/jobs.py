"""Outbox records as the rest of the code sees them, and the retry policy as data."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from connector.crm import JobKind


class JobState(enum.StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"  # waiting for its time (not_before) or for earlier jobs of its conversation
    RUNNING = "running"  # claimed by a worker holding a lease
    DELIVERED = "delivered"
    DEAD = "dead"  # dead-lettered: kept with the CRM's message until retried or purged


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of delivery: an adapter, a kind of work and what to send."""

    id: int
    key: str
    adapter: str
    kind: JobKind
    conversation: str
    state: JobState
    attempts: int
    not_before: float
    created_at: float
    last_error: str | None = None
    finished_at: float | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # filled for claimed jobs only


Verdict = Literal["delivered", "retry", "parked", "dead", "released"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a worker decided about one claimed job, written with others in one commit.

    delivered → done; retry → due again after `delay` s; parked → the same, with the attempt given
    back (the CRM refused our credentials, not the job); released → handed back unrun, attempt
    refunded; dead → dead-lettered with `error`, and the rest of its chain held with it.
    """

    job: Job
    verdict: Verdict
    delay: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AdapterStats:
    """Queue figures for one adapter."""

    pending: int = 0
    running: int = 0
    delivered: int = 0
    dead: int = 0
    oldest_age: float | None = None  # seconds since the oldest undelivered, live job was created

    @property
    def depth(self) -> int:
        """Jobs still to deliver."""
        return self.pending + self.running


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Figures for `outbox status`, /healthz and /metrics."""

    adapters: dict[str, AdapterStats]
    journal_calls: int

    @property
    def depth(self) -> int:
        """Jobs still to deliver, all adapters."""
        return sum(a.depth for a in self.adapters.values())

    @property
    def dead(self) -> int:
        """Dead letters, all adapters."""
        return sum(a.dead for a in self.adapters.values())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a failed job again: exponential backoff with jitter, Retry-After honoured."""

    max_attempts: int = 12
    backoff_min: float = 2.0
    backoff_max: float = 900.0
    retry_after_max: float = 3600.0  # a CRM asking for longer is not believed beyond this

    def delay(
        self, attempts: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds before try number `attempts + 1`; the CRM's Retry-After is used as given."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_max)
        base = min(self.backoff_max, self.backoff_min * 2.0 ** max(0, attempts - 1))
        # "Equal jitter": never less than half the base, so a crowd of retries spreads out
        # without any of them coming back almost at once.
        return base / 2 + (rng or random).uniform(0, base / 2)

    def exhausted(self, attempts: int) -> bool:
        """Whether a job that has been tried `attempts` times must be dead-lettered."""
        return attempts >= self.max_attempts

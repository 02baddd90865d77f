"""Report periods: local calendar days turned into the store's UTC bounds, and an injectable clock.

Reports count by the company's calendar (its time zone), while the store keeps UTC. "Today" comes
from a clock passed in, so "this month" and "an active campaign ends today" are testable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from aiohttp import web

from adapters.builtin.db import iso

Clock = Callable[[], datetime]
MAX_DAYS = 731  # two years: a report never scans an unbounded range


def system_clock() -> datetime:
    """The real current time (UTC)."""
    return datetime.now(UTC)


def local_tz() -> tzinfo:
    """The server's own time zone (MikoPBX runs in the company's)."""
    return datetime.now().astimezone().tzinfo or UTC


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first`..`last`, both included, in time zone `tz`."""

    first: date
    last: date
    tz: tzinfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the period ends before it starts")
        if self.days > MAX_DAYS:
            raise ValueError(f"a period is at most {MAX_DAYS} days")

    @property
    def days(self) -> int:
        """How many calendar days the period has."""
        return (self.last - self.first).days + 1

    @property
    def since(self) -> str:
        """The first moment of the period as the store writes times (inclusive bound)."""
        return iso(datetime.combine(self.first, time(), self.tz))

    @property
    def until(self) -> str:
        """The first moment after the period (exclusive bound)."""
        return iso(datetime.combine(self.last + timedelta(days=1), time(), self.tz))

    def overlap_days(self, start: date, end: date) -> int:
        """How many days of `start`..`end` (both included) fall inside the period."""
        return max(0, (min(end, self.last) - max(start, self.first)).days + 1)

    def as_dict(self) -> dict[str, str]:
        """The period as the API shows it."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def today(clock: Clock, tz: tzinfo) -> date:
    """The local calendar day now."""
    return clock().astimezone(tz).date()


def this_month(day: date, tz: tzinfo) -> Period:
    """From the first of `day`'s month up to `day`: the reports' default."""
    return Period(day.replace(day=1), day, tz)


def sql_shift(tz: tzinfo, at: datetime) -> str:
    """The SQLite date modifier that turns stored UTC into local time, e.g. '+180 minutes'."""
    offset = at.astimezone(tz).utcoffset() or timedelta()
    return f"{int(offset.total_seconds() // 60):+d} minutes"


@dataclass(frozen=True, slots=True)
class AnalyticsConfig:
    """Tracking numbers to seed (number, name), the clock, and the time zone reports count days in."""

    lines: tuple[tuple[str, str], ...] = ()
    clock: Clock = system_clock
    tz: tzinfo = field(default_factory=local_tz)


CONFIG_KEY = web.AppKey("builtin_analytics", AnalyticsConfig)
_DEFAULT = AnalyticsConfig()


def config_of(request: web.Request) -> AnalyticsConfig:
    """This app's analytics configuration (the system clock and time zone unless configured)."""
    return request.app.get(CONFIG_KEY) or _DEFAULT

"""The tracker's rules: numbering plan, lines (DIDs) and lifetime limits, as one frozen object.

`TrackerRules` is built once: from the connector's settings (`rules_from_settings`), from the
`numbering` object of a capture file (`rules_from_numbering`) or directly in tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connector.calls import phones

if TYPE_CHECKING:
    from connector.config import Settings


@dataclass(frozen=True, slots=True)
class TrackerRules:
    """How the tracker reads numbers and how long it lets a conversation live."""

    country_code: str = phones.DEFAULT_COUNTRY
    national_prefix: str = phones.DEFAULT_NATIONAL_PREFIX  # informative: the region's own are used
    national_length: int = phones.DEFAULT_NATIONAL_LENGTH  # digits compared when matching lines
    region: str = ""  # default region for E.164 (RU, BY...); empty: the region of country_code
    internal_pattern: str = r"^[0-9]{2,5}$"
    dids: tuple[str, ...] = ()  # the company's external lines; empty: the dialled number is the DID
    max_call_seconds: float = 4 * 3600.0
    expiry_check_seconds: float = 60.0  # how often (in event time) feed() looks for expired calls
    remembered_hangups: int = 65536  # hung-up channels remembered so late duplicates are ignored
    clock_tolerance_seconds: float = 300.0  # how far an event's stamp may stray (see clock.py)
    max_calls_in_progress: int = 5000  # past this the oldest calls in progress are shed
    max_channels: int = 20000  # and past this many channels followed
    # app_queue name -> (number, display name), for PBXs that name queues by an internal id
    # (MikoPBX: QUEUE-<uniqid> is reached by a separate extension number).
    queues: tuple[tuple[str, str, str], ...] = ()
    # Whether a moment is inside the company's working hours (the interception schedule): evidence
    # of closed hours for an inbound call no phone rang. None: unknown.
    working_hours: Callable[[datetime], bool] | None = field(default=None, compare=False)
    _internal: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _lines: frozenset[str] = field(init=False, repr=False, compare=False)  # the DIDs in E.164

    def __post_init__(self) -> None:
        if not self.country_code.isdigit():
            raise ValueError("country_code must be digits, e.g. '7'")
        if self.max_call_seconds <= 0:
            raise ValueError("max_call_seconds must be positive")
        if self.max_calls_in_progress < 1 or self.max_channels < 1 or self.clock_tolerance_seconds <= 0:
            raise ValueError(
                "max_calls_in_progress, max_channels and clock_tolerance_seconds must be positive"
            )
        object.__setattr__(self, "_internal", re.compile(self.internal_pattern))
        object.__setattr__(self, "region", phones.region_for(self.region or self.country_code))
        lines = frozenset(phones.normalize(did, self.region, warn=False) for did in self.dids)
        object.__setattr__(self, "_lines", lines)

    def is_extension(self, name: str) -> bool:
        """Whether an endpoint name (or number) is an employee's extension."""
        return self._internal.match(name) is not None

    def queue_by_id(self, queue: str) -> tuple[str, str] | None:
        """The configured (number, name) of the queue whose app_queue name (or, failing that,
        number) is `queue`; None when not configured."""
        for queue_id, number, name in self.queues:
            if queue in (queue_id, number):
                return number, name
        return None

    def normalize(self, number: str) -> str:
        """`number` in E.164 with this plan's default region (see `phones.normalize`)."""
        return phones.normalize(number, self.region)

    def line_for(self, dialled: str) -> str | None:
        """The DID (E.164) an inbound call to `dialled` came in on, or None if it is not a line."""
        if not dialled or not any(ch.isdigit() for ch in dialled) or self.is_extension(dialled):
            return None
        if not self.dids:
            return phones.normalize(dialled, self.region, warn=False)
        wanted = phones.normalize(dialled, self.region, warn=False)
        if wanted in self._lines:
            return wanted
        found = phones.find_number(dialled, self.dids, self.national_length)
        return self.normalize(found) if found is not None else None


def rules_from_settings(settings: Settings) -> TrackerRules:
    """Rules from `connector.config.Settings` (its `numbering` and `calls` sections)."""
    numbering = settings.numbering
    return TrackerRules(
        country_code=numbering.country_code,
        national_prefix=numbering.national_prefix,
        region=numbering.region,
        internal_pattern=numbering.internal_pattern,
        dids=tuple(line.number for line in numbering.lines),
        queues=tuple((q.id, q.number, q.name) for q in numbering.queues),
        max_call_seconds=float(settings.calls.max_call_seconds),
        working_hours=_working_hours(settings),
    )


def _working_hours(settings: Settings) -> Callable[[datetime], bool] | None:
    """The interception section's working hours and holidays as a test of a moment, or None."""
    section = settings.interception
    if not section.working_hours and not section.holidays:
        return None
    schedule = section.schedule()
    zone = ZoneInfo(section.timezone)
    holidays = frozenset(section.holidays)

    def working(moment: datetime) -> bool:
        local = moment.astimezone(zone)
        if local.strftime("%Y-%m-%d") in holidays:
            return False
        return not schedule or any(line.covers(local) for line in schedule)

    return working


def rules_from_numbering(numbering: dict[str, Any] | None, **overrides: Any) -> TrackerRules:
    """Rules from a capture file's `numbering` object (`country`, `region`, `internal_pattern`, `dids`)."""
    numbering = numbering or {}
    values: dict[str, Any] = {}
    if "country" in numbering:
        values["country_code"] = str(numbering["country"])
    if "region" in numbering:
        values["region"] = str(numbering["region"])
    if "national_prefix" in numbering:
        values["national_prefix"] = str(numbering["national_prefix"])
    if "internal_pattern" in numbering:
        values["internal_pattern"] = str(numbering["internal_pattern"])
    if numbering.get("dids"):
        values["dids"] = tuple(str(d) for d in numbering["dids"])
    if numbering.get("queues"):
        values["queues"] = tuple(
            (str(q["id"]), str(q["number"]), str(q.get("name", ""))) for q in numbering["queues"]
        )
    values.update(overrides)
    return TrackerRules(**values)

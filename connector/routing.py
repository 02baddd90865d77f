"""Whose client is this caller? Responsible-manager lookup and the interception decision.

`ResponsibleFinder` asks the configured adapters (in the configured order, all at once) for the
caller's CRM party and its responsible employee, maps the CRM user to an extension (the
adapter's own map, or `interception.users` overrides), and keeps the answer in a small bounded
cache. The caller of `find` never waits longer than `lookup_timeout`: past it the answer is
"nobody" and the call takes its normal route, while the lookup itself carries on in the
background (owned, bounded) so the next call from that number finds the cache warm.

`Interception.decide` applies the cheap rules first (on/off, DIDs where it is off, working
hours, employees' own numbers) so a call outside working hours never waits for a CRM.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector import ami_values as values
from connector import logs
from connector.calls import phones
from connector.calls.model import Direction, LiveEvent, LiveKind
from connector.errors import AmiActionError, AmiError, UnsafeValueError

if TYPE_CHECKING:
    from connector.ami.actions import ActionSender
    from connector.ami.agi import AgiServer

# What an extension handed to the dialplan may look like: digits only, as MikoPBX numbers them.
SAFE_EXTENSION = re.compile(r"[0-9]{1,15}")

log = logs.get_logger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
MAX_BACKGROUND = 64  # lookups allowed to finish in the background after their caller gave up


@dataclass(frozen=True, slots=True)
class Hours:
    """One line of the working-hours schedule: weekdays (0 = Monday) and a time range."""

    days: frozenset[int]
    start: clock_time
    end: clock_time | None  # None: until midnight ("24:00")

    def covers(self, moment: datetime) -> bool:
        """Whether the local `moment` falls inside this line."""
        if moment.weekday() not in self.days:
            return False
        now = moment.time()
        return self.start <= now and (self.end is None or now < self.end)


def parse_hours(text: str) -> Hours:
    """Parse `mon-fri 09:00-18:00` (days: a range, a comma list or one day; `24:00` allowed)."""
    found = _HOURS.match(text.lower())
    if found is None:
        raise ValueError(f"working hours {text!r} must look like 'mon-fri 09:00-18:00'")
    days_text, h1, m1, h2, m2 = found.groups()
    days: set[int] = set()
    for part in days_text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"working hours {text!r}: unknown day in {part!r} (use {', '.join(DAYS)})")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    if int(h1) > 23 or int(m1) > 59 or int(h2) > 24 or int(m2) > 59 or (int(h2) == 24 and int(m2)):
        raise ValueError(f"working hours {text!r}: not a time of day")
    end = None if int(h2) == 24 else clock_time(int(h2), int(m2))
    return Hours(frozenset(days), clock_time(int(h1), int(m1)), end)


@dataclass(frozen=True, slots=True)
class InterceptionSettings:
    """Interception to the client's responsible manager (the `interception:` section)."""

    enabled: bool = False
    mode: Literal["predial", "parallel"] = "predial"
    attempt_seconds: int = 15
    lookup_timeout: float = 1.5
    cache_seconds: float = 60.0
    cache_size: int = 10_000
    adapters: tuple[str, ...] = ()
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    disabled_dids: tuple[str, ...] = ()
    timezone: str = "Europe/Moscow"
    working_hours: tuple[str, ...] = ()
    holidays: tuple[str, ...] = ()
    employee_numbers: tuple[str, ...] = ()
    skip_unavailable: bool = True
    device: str = "PJSIP/{ext}"
    unavailable_states: tuple[str, ...] = ("UNAVAILABLE", "INVALID")
    dial: str = "Local/{ext}@internal-users"
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    connect_context: str = "crm-interception-connect"

    def __post_init__(self) -> None:
        if not 1 <= self.attempt_seconds <= 300:
            raise ValueError("attempt_seconds must be between 1 and 300")
        if not 0 < self.lookup_timeout <= 10:
            raise ValueError("lookup_timeout must be more than 0 and at most 10 seconds")
        if self.cache_seconds < 0 or self.cache_size < 1:
            raise ValueError("need cache_seconds >= 0 and cache_size >= 1")
        if not 0 <= self.agi_port < 65536:  # 0: any free port (tests)
            raise ValueError(f"agi_port {self.agi_port} is not a TCP port")
        if "{ext}" not in self.device or "{ext}" not in self.dial:
            raise ValueError("device and dial must contain {ext}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        for line in self.working_hours:
            parse_hours(line)
        for day in self.holidays:
            datetime.strptime(day, "%Y-%m-%d")

    def schedule(self) -> tuple[Hours, ...]:
        """The working hours, parsed (empty: interception at any time)."""
        return tuple(parse_hours(line) for line in self.working_hours)


@dataclass(frozen=True, slots=True)
class Responsible:
    """The employee responsible for a caller, as one CRM says."""

    extension: str
    adapter: str
    user_id: str | None = None
    contact: str = ""


class Lookup(Protocol):
    """What the finder needs from an adapter: `Adapter.lookup`."""

    def __call__(self, phone: str) -> Awaitable[object | None]:
        """The CRM party with this E.164 number (a `Contact`), or None."""
        ...


Clock = Callable[[], float]


class LookupTimedOut(TimeoutError):
    """No CRM answered within `lookup_timeout`: the call takes its normal route."""


class ResponsibleFinder:
    """Cached, time-bounded "who is responsible for this caller" across CRMs."""

    def __init__(
        self,
        sources: Sequence[tuple[str, Lookup]],
        settings: InterceptionSettings,
        clock: Clock = time.monotonic,
    ) -> None:
        wanted = settings.adapters or tuple(name for name, _ in sources)
        by_name = dict(sources)
        self.sources = [(name, by_name[name]) for name in wanted if name in by_name]
        self.settings = settings
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Responsible | None]] = OrderedDict()
        self._running: dict[str, asyncio.Task[Responsible | None]] = {}
        self.timeouts = 0

    async def find(self, phone: str) -> Responsible | None:
        """The responsible for `phone` (E.164), or None; `LookupTimedOut` after `lookup_timeout`."""
        key = phones.last_digits(phone)
        cached = self._cached(key)
        if cached is not None:
            return cached[0]
        task = self._running.get(key)
        if task is None:
            if len(self._running) >= MAX_BACKGROUND:
                # The CRMs are not keeping up: do not pile more lookups on them.
                raise LookupTimedOut(f"{MAX_BACKGROUND} lookups already waiting for the CRMs")
            task = asyncio.create_task(self._lookup(key, phone), name=f"lookup-{key}")
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        try:
            async with asyncio.timeout(self.settings.lookup_timeout):
                return await asyncio.shield(task)
        except TimeoutError:
            self.timeouts += 1
            log.warning("routing.lookup_timeout", seconds=self.settings.lookup_timeout)
            raise LookupTimedOut(f"no CRM answered in {self.settings.lookup_timeout:g} s") from None

    def _cached(self, key: str) -> tuple[Responsible | None] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry[0] < self._clock():
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return (entry[1],)

    async def _lookup(self, key: str, phone: str) -> Responsible | None:
        tasks = [asyncio.create_task(self._ask(name, lookup, phone)) for name, lookup in self.sources]
        try:
            # Every CRM is asked at once; the configured order decides who wins.
            answers = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        found = next((answer for answer in answers if answer is not None), None)
        self._remember(key, found)
        return found

    async def _ask(self, name: str, lookup: Lookup, phone: str) -> Responsible | None:
        try:
            # A CRM slower than this is not worth waiting for even in the background.
            async with asyncio.timeout(max(10.0, self.settings.lookup_timeout)):
                contact = await lookup(phone)
        except Exception as exc:
            # Isolation boundary: one CRM failing must not stop the others from answering.
            log.warning("routing.lookup_failed", adapter=name, error=str(exc) or type(exc).__name__)
            return None
        return self._responsible(name, contact)

    def _responsible(self, name: str, contact: object | None) -> Responsible | None:
        if contact is None:
            return None
        user = getattr(contact, "responsible_user_id", None)
        override = self.settings.users.get(name, {}).get(str(user)) if user is not None else None
        extension = override or getattr(contact, "responsible_extension", None)
        if not extension:
            return None
        if not SAFE_EXTENSION.fullmatch(str(extension)):
            # CRM users edit their own "inner phone": it reaches Dial() and DEVICE_STATE(), where
            # `,`, `&`, `$` or `(` would inject dial targets or dialplan functions (toll fraud).
            log.warning("routing.unsafe_extension", adapter=name, extension=repr(extension)[:40])
            return None
        return Responsible(
            str(extension), name, None if user is None else str(user), getattr(contact, "name", "")
        )

    def _remember(self, key: str, found: Responsible | None) -> None:
        if self.settings.cache_seconds <= 0:
            return
        self._cache[key] = (self._clock() + self.settings.cache_seconds, found)
        self._cache.move_to_end(key)
        while len(self._cache) > self.settings.cache_size:
            self._cache.popitem(last=False)

    def forget(self) -> None:
        """Empty the cache (a CRM's data changed)."""
        self._cache.clear()

    async def aclose(self) -> None:
        """Cancel the lookups still running in the background."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with an incoming call: ring `extension` for `seconds` first, or not (`reason`)."""

    reason: str
    extension: str | None = None
    seconds: int = 0
    adapter: str = ""

    @property
    def intercept(self) -> bool:
        """Whether the responsible is to be rung."""
        return self.extension is not None


class Interception:
    """The interception rules applied to one incoming call."""

    def __init__(
        self,
        settings: InterceptionSettings,
        finder: ResponsibleFinder,
        *,
        country_code: str = phones.DEFAULT_COUNTRY,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.finder = finder
        self.country_code = country_code
        self._now = now
        self._zone = ZoneInfo(settings.timezone)
        self._schedule = settings.schedule()

    def normalize(self, number: str) -> str:
        """A caller id as E.164 in the configured country."""
        return phones.normalize(number, self.country_code)

    async def decide(self, caller: str, did: str = "") -> Decision:
        """Whether and where to intercept a call from `caller` on line `did`."""
        skip = self.precheck(caller, did)
        if skip is not None:
            return Decision(skip)
        try:
            found = await self.finder.find(self.normalize(caller))
        except LookupTimedOut:
            return Decision("lookup_timeout")
        if found is None:
            return Decision("no_responsible")
        return Decision("responsible", found.extension, self.settings.attempt_seconds, found.adapter)

    def precheck(self, caller: str, did: str) -> str | None:
        """Why the call is not intercepted without asking any CRM, or None to ask."""
        s = self.settings
        if not s.enabled:
            return "disabled"
        if did and phones.find_number(did, s.disabled_dids) is not None:
            return "did_disabled"
        if not self.working(self._now()):
            return "after_hours"
        if len(phones.digits(caller)) < 5:
            return "no_number"  # anonymous, or an internal number: not a client
        if phones.find_number(caller, s.employee_numbers) is not None:
            return "employee"
        return None

    def working(self, moment: datetime) -> bool:
        """Whether `moment` is inside the working hours (and not a holiday)."""
        local = moment.astimezone(self._zone)
        if local.strftime("%Y-%m-%d") in self.settings.holidays:
            return False
        if not self._schedule:
            return True
        return any(line.covers(local) for line in self._schedule)

    def unavailable(self, state: str) -> bool:
        """Whether a DEVICE_STATE value means the responsible cannot be rung now."""
        return self.settings.skip_unavailable and state.strip().upper() in self.settings.unavailable_states

    def device(self, extension: str) -> str:
        """The device whose state decides whether `extension` is reachable (PJSIP/201)."""
        return self.settings.device.format(ext=extension)

    def dial_string(self, extension: str) -> str:
        """What the dialplan dials to ring `extension`."""
        return self.settings.dial.format(ext=extension)


def sources_from(adapters: Mapping[str, object]) -> list[tuple[str, Lookup]]:
    """The lookups of the running adapters (objects with an async `lookup(phone)`)."""
    found: list[tuple[str, Lookup]] = []
    for name, adapter in adapters.items():
        lookup = getattr(adapter, "lookup", None)
        if lookup is not None:
            found.append((name, lookup))
    return found


@dataclass(slots=True)
class _Attempt:
    """Parallel interception of one incoming call."""

    call_id: str
    rang: set[str] = field(default_factory=set)
    extension: str | None = None
    channel_id: str | None = None
    settled: bool = False  # someone answered, or the caller left: the attempt must stop


class ParallelInterceptor:
    """Parallel mode: while the route rings, ring the responsible too; connect them only if nobody
    has answered yet and the caller is still there (the dialplan checks at the moment of answer,
    see [crm-interception-connect]); stop ringing them when someone else answers or the caller
    hangs up. Fed with the tracker's live events (`on_live`, synchronous, never blocks)."""

    def __init__(
        self,
        interception: Interception,
        ami: ActionSender,
        *,
        action_timeout: float = 5.0,
        max_calls: int = 256,
    ) -> None:
        self.interception = interception
        self.ami = ami
        self.action_timeout = action_timeout
        self.max_calls = max_calls
        self.attempts: OrderedDict[str, _Attempt] = OrderedDict()
        self.decisions: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    def on_live(self, event: LiveEvent) -> None:
        """Follow a live call event (ringing / answered / ended)."""
        s = self.interception.settings
        if not s.enabled or s.mode != "parallel" or event.direction is not Direction.INBOUND:
            return
        attempt = self.attempts.get(event.call_id)
        if event.kind is LiveKind.RINGING:
            if attempt is None:
                while len(self.attempts) >= self.max_calls:
                    self.attempts.popitem(last=False)  # the oldest: its ENDED was never seen
                attempt = self.attempts[event.call_id] = _Attempt(event.call_id)
                self._spawn(self._start(attempt, event.client, event.did or ""))
            if event.exten:
                attempt.rang.add(event.exten)
        elif attempt is not None and event.kind in (LiveKind.ANSWERED, LiveKind.ENDED):
            if event.kind is LiveKind.ENDED:
                del self.attempts[event.call_id]
            if event.exten != attempt.extension or event.kind is LiveKind.ENDED:
                attempt.settled = True
                # 26 "answered elsewhere" keeps the phone from listing a missed call; a caller
                # who left is a missed call for the responsible too (16).
                self._spawn(self._stop(attempt, 26 if event.kind is LiveKind.ANSWERED else 16))

    async def _start(self, attempt: _Attempt, client: str, did: str) -> None:
        decision = await self.interception.decide(client, did)
        extension = decision.extension
        if extension is not None and extension in attempt.rang:
            decision = Decision("route_rings_responsible")
        elif extension is not None and await self._unavailable(extension):
            decision = Decision("device_unavailable")
        self.decisions[decision.reason] = self.decisions.get(decision.reason, 0) + 1
        if decision.extension is None or attempt.settled:
            return
        caller = await self._caller_channel(attempt.call_id)
        if caller is None or attempt.settled:
            return
        attempt.extension = decision.extension
        attempt.channel_id = f"crm-ic-{int(time.time())}.{next(self._ids)}"
        await self._originate(attempt, caller, client)
        if attempt.settled:  # answered elsewhere while the Originate was on its way
            await self._stop(attempt)

    async def _originate(self, attempt: _Attempt, caller: str, client: str) -> None:
        assert attempt.extension is not None and attempt.channel_id is not None
        s = self.interception.settings
        headers = {
            "Channel": self.interception.device(attempt.extension),
            "Context": s.connect_context,
            "Exten": "s",
            "Priority": "1",
            "CallerID": f'"{client}" <{client}>',
            "Timeout": str(s.attempt_seconds * 1000),
            "Async": "true",
            "ChannelId": attempt.channel_id,
            # the caller's number comes from the trunk: the one encoder keeps it a single variable
            "Variable": values.variables({"CRM_CALLER": caller, "CRM_RESPONSIBLE": attempt.extension}),
        }
        # Marks the attempt in the AMI stream before its channel exists, so a tracker can file the
        # attempt's channel under the client's call (its uniqueid is ours: ChannelId). The
        # caller is named by CallerUniqueid/CallerLinkedid (connector/calls/interception.py);
        # the bare Uniqueid/Linkedid stay for readers of the first version of the marker.
        marker = {
            "UserEvent": "CrmInterception",
            "CallerUniqueid": attempt.call_id,
            "CallerLinkedid": attempt.call_id,
            "Uniqueid": attempt.call_id,
            "Linkedid": attempt.call_id,
            "Responsible": attempt.extension,
            "Mode": "parallel",
            "AttemptUniqueid": attempt.channel_id,
        }
        await self.ami.send("UserEvent", marker, within=self.action_timeout)
        await self.ami.send("Originate", headers, within=self.action_timeout)
        log.info("routing.parallel_attempt", conversation=attempt.call_id, extension=attempt.extension)

    async def _stop(self, attempt: _Attempt, cause: int = 26) -> None:
        if attempt.channel_id is None:
            return
        channel, attempt.channel_id = attempt.channel_id, None
        with contextlib.suppress(AmiActionError):
            # Already gone (answered and connected, or given up) is fine.
            await self.ami.send(
                "Hangup", {"Channel": channel, "Cause": str(cause)}, within=self.action_timeout
            )

    async def _unavailable(self, extension: str) -> bool:
        if not self.interception.settings.skip_unavailable:
            return False
        device = self.interception.device(extension)
        result = await self.ami.send(
            "Getvar", {"Variable": f"DEVICE_STATE({device})"}, within=self.action_timeout
        )
        return self.interception.unavailable(result.response.get("Value", ""))

    async def _caller_channel(self, call_id: str) -> str | None:
        """The caller's channel: on an incoming call its uniqueid is the conversation id."""
        result = await self.ami.send(
            "CoreShowChannels", within=self.action_timeout, list_end="CoreShowChannelsComplete"
        )
        return next((m.get("Channel") for m in result.events if m.get("Uniqueid") == call_id), None)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except (AmiError, UnsafeValueError, TimeoutError) as exc:
            # The call goes on with its normal route; the attempt is only a bonus.
            log.warning("routing.parallel_failed", error=str(exc) or type(exc).__name__)

    async def stop(self) -> None:
        """Cancel the attempts being started (on shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def start_interception(
    stack: contextlib.AsyncExitStack,
    settings: InterceptionSettings,
    adapters: Mapping[str, object],
    ami: ActionSender,
    *,
    country_code: str = phones.DEFAULT_COUNTRY,
) -> AgiServer | ParallelInterceptor | None:
    """Start interception as configured; each part's undo goes onto `stack`.

    Pre-dial mode starts and returns the FastAGI server; parallel mode returns the interceptor,
    whose `on_live` must receive the tracker's live events. Off: nothing starts, None.
    """
    if not settings.enabled:
        return None
    from connector.ami.agi import AgiServer  # here: the AGI module imports this one

    finder = ResponsibleFinder(sources_from(adapters), settings)
    stack.push_async_callback(finder.aclose)
    interception = Interception(settings, finder, country_code=country_code)
    if settings.mode == "parallel":
        interceptor = ParallelInterceptor(interception, ami)
        stack.push_async_callback(interceptor.stop)
        return interceptor
    server = AgiServer(interception)
    await server.start()
    stack.push_async_callback(server.stop)
    return server

"""Call control: click-to-call, hang-up, blind and attended transfer, through AMI actions.

The live channel state comes from Asterisk at request time (`CoreShowChannels`), so a request
never acts on a stale picture. Toll-fraud guards: the number must match one of
`call_control.number_patterns`, the caller (API token, CRM widget) must be allowed to act for
the extension, and each caller has a click-to-call rate limit. Every AMI action has a timeout;
AMI errors become `CallControlError`s the HTTP routes and the CRM entry points understand.

It satisfies the narrow protocols of the CRM entry points: `adapters.amocrm.widget.CallControl`
and `adapters.bitrix24.webhook.CallControl` (and the built-in CRM's call-back button).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from connector import ami_values as values
from connector import logs
from connector.calls.model import TransferKind
from connector.calls.rules import TrackerRules
from connector.calls.state import Kind, classify
from connector.errors import (
    AmiActionError,
    AmiConnectionError,
    CallControlError,
    CallNotFoundError,
    NotPermittedError,
    PbxUnavailableError,
    TooManyCallsError,
    UnsafeValueError,
)
from connector.offices import Offices

if TYPE_CHECKING:
    from connector.ami.actions import ActionSender
    from connector.ami.protocol import Message
    from connector.ami.session import ActionResult

log = logs.get_logger(__name__)

MAX_CALLERS = 1024  # rate-limit windows kept (one per token / widget)
ADAPTERS = "crm"  # the rate-limit key of requests from CRM entry points without a token of their own
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class CallControlSettings:
    """Click-to-call and call control (the `call_control:` section)."""

    enabled: bool = True
    originate_channel: str = "Local/{ext}@internal-originate"
    dial_context: str = "all_peers"
    caller_id: str = '"{number}" <{number}>'
    variables: dict[str, str] = field(default_factory=dict)
    # Russian mobile (9xx), geographic (3xx, 4xx, 8[1-9]x) and toll-free 800 numbers; never the
    # premium-rate 80[1-9] ranges that toll fraud aims at.
    number_patterns: tuple[str, ...] = (
        r"^(\+7|7|8)9\d{9}$",
        r"^(\+7|7|8)[34]\d{9}$",
        r"^(\+7|7|8)(800|8[1-9]\d)\d{7}$",
    )
    ring_seconds: int = 30
    transfer_context: str = "internal"
    extension_channel: str = "PJSIP/{ext}-"
    calls_per_minute: int = 10  # per API token, person, or CRM entry point's extension
    crm_calls_per_minute: int = 60  # per CRM entry point (a widget token, a portal): all users
    total_calls_per_minute: int = 120  # the whole daemon
    action_timeout: float = 5.0

    def __post_init__(self) -> None:
        if "{ext}" not in self.originate_channel or "{ext}" not in self.extension_channel:
            raise ValueError("originate_channel and extension_channel must contain {ext}")
        for pattern in self.number_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"number pattern {pattern!r} is not a regular expression: {exc}") from exc
        if not 5 <= self.ring_seconds <= 120 or self.calls_per_minute < 1:
            raise ValueError("need 5 <= ring_seconds <= 120 and calls_per_minute >= 1")
        if min(self.crm_calls_per_minute, self.total_calls_per_minute) < self.calls_per_minute:
            raise ValueError("crm_calls_per_minute and total_calls_per_minute must be >= calls_per_minute")
        if not 0 < self.action_timeout <= 30:
            raise ValueError("action_timeout must be more than 0 and at most 30 seconds")
        try:
            values.variables(self.variables)  # the encoder every Originate uses
        except UnsafeValueError as exc:
            raise ValueError(f"variables: {exc}") from exc


class Caller(Protocol):
    """Who asks (an API `Principal`): a name for the rate limit, and the extensions it may use."""

    @property
    def name(self) -> str:
        """The token's or the person's name."""
        ...

    @property
    def rate_key(self) -> str:
        """Who the rate limit counts: unique per token or per person (names are not)."""
        ...

    def may_act_for(self, extension: str) -> bool:
        """Whether it may place or control calls for `extension`."""
        ...


class RateLimiter:
    """At most `per_minute` requests per key in any 60 s window (bounded number of keys)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._windows: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, who: str) -> float:
        """Seconds until `who` may make one more request (0: now)."""
        now = self._clock()
        window = self._windows.get(who)
        if window is None:
            return 0.0
        while window and window[0] <= now - 60.0:
            window.popleft()
        return 0.0 if len(window) < self.per_minute else window[0] + 60.0 - now

    def count(self, who: str) -> None:
        """Count one request by `who` (after `wait` said it may)."""
        window = self._windows.setdefault(who, deque())
        self._windows.move_to_end(who)
        window.append(self._clock())
        while len(self._windows) > MAX_CALLERS:
            self._windows.popitem(last=False)

    def take(self, who: str) -> None:
        """Count one request by `who`, or raise `TooManyCallsError`."""
        retry = self.wait(who)
        if retry > 0:
            raise TooManyCallsError(f"at most {self.per_minute} calls a minute may be placed", retry)
        self.count(who)


class FloodGuard:
    """Click-to-call limits at three levels, so no one key can flood the PBX.

    Per caller (an API token, a person, or one extension of a CRM entry point), per source (all
    of one CRM entry point's employees together: the amoCRM widget token sits in every amoCRM
    user's browser) and for the whole daemon. A refusal is logged once a minute per key as
    `control.flood` and counted in `refused` (by level) for /metrics.
    """

    def __init__(self, settings: CallControlSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.levels = {
            "caller": RateLimiter(settings.calls_per_minute, clock),
            "source": RateLimiter(settings.crm_calls_per_minute, clock),
            "total": RateLimiter(settings.total_calls_per_minute, clock),
        }
        self.refused: dict[str, int] = dict.fromkeys(self.levels, 0)
        self._alerted: OrderedDict[str, float] = OrderedDict()

    def take(self, keys: Mapping[str, str]) -> None:
        """Count one originate for `keys` (level → key), or raise `TooManyCallsError` counting none."""
        for level, key in keys.items():
            limiter = self.levels[level]
            retry = limiter.wait(key)
            if retry > 0:
                self.refused[level] += 1
                self._alert(level, key, limiter.per_minute)
                raise TooManyCallsError(
                    f"at most {limiter.per_minute} calls a minute may be placed ({LEVELS[level]})", retry
                )
        for level, key in keys.items():
            self.levels[level].count(key)

    def _alert(self, level: str, key: str, per_minute: int) -> None:
        now = self._clock()
        name = f"{level}:{key}"
        if now - self._alerted.get(name, -1e18) < 60.0:
            return
        self._alerted[name] = now
        self._alerted.move_to_end(name)
        while len(self._alerted) > MAX_CALLERS:
            self._alerted.popitem(last=False)
        log.warning("control.flood", level=level, who=key, per_minute=per_minute)


LEVELS = {"caller": "per caller", "source": "per CRM entry point", "total": "for the whole PBX"}


class AmiSlot:
    """An `ActionSender` to hand out before the AMI client exists (the service builds the
    adapters, and their call control, before it starts AMI); `bind` the client later."""

    def __init__(self) -> None:
        self._sender: ActionSender | None = None

    def bind(self, sender: ActionSender) -> None:
        """From now on, actions go to `sender` (the `AmiClient`)."""
        self._sender = sender

    async def send(
        self,
        action: str,
        headers: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        list_end: str | None = None,
        follow_event: str | None = None,
    ) -> ActionResult:
        """Send through the bound client; `AmiConnectionError` while none is bound."""
        if self._sender is None:
            raise AmiConnectionError(f"{action}: AMI is not started yet")
        return await self._sender.send(
            action, headers, within=within, list_end=list_end, follow_event=follow_event
        )


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """One channel Asterisk has now (a CoreShowChannel item)."""

    name: str
    uniqueid: str
    linkedid: str
    state: str
    bridge: str

    @classmethod
    def of(cls, item: Message) -> LiveChannel:
        """Read a CoreShowChannel event."""
        return cls(
            item.get("Channel", ""),
            item.get("Uniqueid", ""),
            item.get("Linkedid", ""),
            item.get("ChannelStateDesc", ""),
            item.get("BridgeId", ""),
        )


class CallControl:
    """Click-to-call, hang-up and transfers for employees' extensions."""

    def __init__(
        self,
        ami: ActionSender,
        settings: CallControlSettings,
        rules: TrackerRules | None = None,
        clock: Callable[[], float] = time.monotonic,
        offices: Offices | None = None,
    ) -> None:
        self.ami = ami
        self.settings = settings
        # Extensions of other offices go to their own connectors (many PBXs, one CRM).
        self.offices = offices or Offices()
        self.rules = rules or TrackerRules()
        self.limits = FloodGuard(settings, clock)
        self._patterns = tuple(re.compile(p) for p in settings.number_patterns)

    # -- click-to-call ---------------------------------------------------------------------

    async def originate(
        self,
        extension: str,
        number: str,
        *,
        crm_call_id: str | None = None,
        by: Caller | None = None,
        source: str | None = None,
        conversation: str | None = None,
    ) -> str:
        """Ring `extension`; once it answers, dial `number`. The conversation id (its linkedid).

        `source` names the CRM entry point asking (see `entry_point`) for its rate limit.
        `conversation` is the id to give the call when the caller recorded it before asking (the
        auto-dialer claims a number under it, so a crash cannot lose which call was whose).
        """
        dialled = self.check_number(number)
        self._check_extension(extension, by)
        if conversation is not None and not re.fullmatch(r"crm-[A-Za-z0-9.\-]{1,60}", conversation):
            raise UnsafeValueError(f"conversation id {conversation!r} must look like crm-<letters, digits>")
        explicit = conversation is not None
        conversation = conversation or f"crm-{int(time.time())}.{next(_ids)}"
        # Encoded before any limit is counted: a refused value costs the caller nothing.
        remote = await self.offices.remote_for(extension)
        if remote is not None:
            if explicit:
                raise CallControlError(
                    f"extension {extension} belongs to office {remote.settings.pbx}:"
                    " auto-dial lists ring this PBX's extensions only"
                )
            self.limits.take(_rate_keys(extension, by, source))
            return await remote.originate(extension, dialled, crm_call_id=crm_call_id)
        headers = values.action(self._originate_headers(extension, dialled, conversation, crm_call_id))
        self.limits.take(_rate_keys(extension, by, source))
        await self._send("Originate", headers)
        log.info("control.originate", extension=extension, number=dialled, conversation=conversation)
        return conversation

    def _originate_headers(
        self, extension: str, number: str, conversation: str, crm_call_id: str | None
    ) -> dict[str, str]:
        s = self.settings
        variables = {**s.variables, "CRM_CLICK_TO_CALL": "1"}
        if crm_call_id:
            variables["CRM_CALL_ID"] = crm_call_id
        return {
            "Channel": s.originate_channel.format(ext=extension),
            "Context": s.dial_context,
            "Exten": number,
            "Priority": "1",
            "CallerID": s.caller_id.format(number=number, ext=extension),
            "Timeout": str(s.ring_seconds * 1000),
            "Async": "true",
            # Our own uniqueid for the first channel: it is the conversation's linkedid, so the
            # CRM learns the call's id before the employee even answers.
            "ChannelId": conversation,
            "OtherChannelId": conversation + ";2",
            "Variable": values.variables(variables),
        }

    def check_number(self, number: str) -> str:
        """The number as it will be dialled (digits, optional '+'), or `NotPermittedError`."""
        cleaned = re.sub(r"[\s\-().]", "", number)
        if not re.fullmatch(r"\+?[0-9]{3,16}", cleaned) or not any(
            p.fullmatch(cleaned) for p in self._patterns
        ):
            raise NotPermittedError(f"number {number!r} is not allowed for click-to-call")
        return cleaned

    def _check_extension(self, extension: str, by: Caller | None) -> None:
        if not self.settings.enabled:
            raise NotPermittedError("call control is switched off (call_control.enabled)")
        if not self.rules.is_extension(extension):
            raise NotPermittedError(f"{extension!r} is not an extension")
        if by is not None and not by.may_act_for(extension):
            raise NotPermittedError(f"{by.name} may not act for extension {extension}")

    def entry_point(self, source: str) -> EntryPoint:
        """This call control as CRM entry point `source` sees it (its own rate limit)."""
        return EntryPoint(self, source)

    # -- calls in progress ---------------------------------------------------------------------

    async def hangup(self, extension: str, *, by: Caller | None = None) -> None:
        """Hang up the employee's channel; on an outgoing call the client's channel too."""
        self._check_extension(extension, by)
        remote = await self.offices.remote_for(extension)
        if remote is not None:
            await remote.hangup(extension)
            return
        channels = await self.channels()
        mine = self._of_extension(channels, extension)
        if not mine:
            raise CallNotFoundError(f"extension {extension} has no call in progress")
        others: list[str] = []
        for channel in mine:
            if self._outgoing(channel, channels):
                others += [c.name for c in channels if c.linkedid == channel.linkedid and self._external(c)]
        for name in dict.fromkeys(c.name for c in mine):
            await self._send("Hangup", {"Channel": name, "Cause": "16"})
        for name in dict.fromkeys(others):
            with contextlib.suppress(CallControlError):
                # Often gone already: Asterisk ends the client's leg with the employee's.
                await self._send("Hangup", {"Channel": name, "Cause": "16"})
        targets = len(mine) + len(others)
        log.info("control.hangup", extension=extension, channels=targets)

    async def transfer(
        self, extension: str, target: str, kind: TransferKind, *, by: Caller | None = None
    ) -> None:
        """Transfer the party talking to `extension` to extension `target` (blind or attended)."""
        self._check_extension(extension, by)
        if not self.rules.is_extension(target):
            raise NotPermittedError(f"transfers go to extensions only, not {target!r}")
        remote = await self.offices.remote_for(extension)
        if remote is not None:
            await remote.transfer(extension, target, kind)
            return
        channels = await self.channels()
        talking = [c for c in self._of_extension(channels, extension) if c.state == "Up" and c.bridge]
        if not talking:
            raise CallNotFoundError(f"extension {extension} is not talking to anyone")
        channel = talking[-1].name
        context = self.settings.transfer_context
        if kind is TransferKind.BLIND:
            await self._send("BlindTransfer", {"Channel": channel, "Context": context, "Exten": target})
        else:
            await self._send("Atxfer", {"Channel": channel, "Context": context, "Exten": target})
        log.info("control.transfer", extension=extension, target=target, kind=kind.value)

    async def channels(self) -> list[LiveChannel]:
        """The channels Asterisk has now."""
        result = await self._send_list("CoreShowChannels", "CoreShowChannelsComplete")
        return [LiveChannel.of(item) for item in result]

    def _of_extension(self, channels: list[LiveChannel], extension: str) -> list[LiveChannel]:
        prefix = self.settings.extension_channel.format(ext=extension)
        return [c for c in channels if c.name.startswith(prefix)]

    def _external(self, channel: LiveChannel) -> bool:
        return classify(channel.name, self.rules)[0] is Kind.EXTERNAL

    def _outgoing(self, channel: LiveChannel, channels: list[LiveChannel]) -> bool:
        """Whether the conversation started on our side (the oldest channel is not a trunk)."""
        origin = next((c for c in channels if c.uniqueid == channel.linkedid), None)
        return origin is None or not self._external(origin)

    # -- AMI, with errors the callers understand -------------------------------------------------

    async def _send(self, action: str, headers: dict[str, str]) -> None:
        try:
            await self.ami.send(action, headers, within=self.settings.action_timeout)
        except AmiConnectionError as exc:
            raise PbxUnavailableError(f"the PBX is not reachable: {exc}") from exc
        except AmiActionError as exc:
            if "no answer" in str(exc):
                raise PbxUnavailableError(str(exc)) from exc
            raise CallControlError(str(exc)) from exc

    async def _send_list(self, action: str, end: str) -> tuple[Message, ...]:
        try:
            result = await self.ami.send(action, within=self.settings.action_timeout, list_end=end)
        except (AmiConnectionError, AmiActionError) as exc:
            raise PbxUnavailableError(f"the PBX is not reachable: {exc}") from exc
        return result.events


def _rate_keys(extension: str, by: Caller | None, source: str | None) -> dict[str, str]:
    """Who a click-to-call counts against, level by level."""
    if by is not None:
        return {"caller": by.rate_key, "total": "*"}
    # Per employee's extension for CRM entry points (one busy clicker in a CRM must not block
    # the whole office), and the entry point as a whole (its token is shared by everyone).
    where = source or ADAPTERS
    return {"caller": f"{where}:{extension}", "source": where, "total": "*"}


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """Call control handed to one CRM adapter: its originates count against its own limit."""

    control: CallControl
    source: str

    async def originate(
        self, extension: str, number: str, *, crm_call_id: str | None = None, by: Caller | None = None
    ) -> str:
        """`CallControl.originate`, counted against this entry point."""
        return await self.control.originate(
            extension, number, crm_call_id=crm_call_id, by=by, source=self.source
        )

    async def hangup(self, extension: str, *, by: Caller | None = None) -> None:
        """`CallControl.hangup`."""
        await self.control.hangup(extension, by=by)

    async def transfer(
        self, extension: str, target: str, kind: TransferKind, *, by: Caller | None = None
    ) -> None:
        """`CallControl.transfer`."""
        await self.control.transfer(extension, target, kind, by=by)

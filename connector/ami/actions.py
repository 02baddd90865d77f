"""Call-control actions with timeouts and clear results (used by the call-control API).

Each returns Asterisk's answer or raises `AmiActionError` (refused, with Asterisk's own message,
or unanswered in time) / `AmiConnectionError` (AMI is down: nothing was sent). Originate is
always `Async: true`: a synchronous Originate blocks Asterisk's manager thread for the whole
ring time and trips panoramisk-style clients; its outcome comes later as `OriginateResponse`.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from connector import ami_values as values
from connector.ami.protocol import Message
from connector.ami.session import ActionResult
from connector.errors import AmiActionError


class ActionSender(Protocol):
    """What the actions need: `AmiClient` (or a single `AmiSession`)."""

    async def send(
        self,
        action: str,
        headers: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        list_end: str | None = None,
        follow_event: str | None = None,
    ) -> ActionResult:
        """Send one action and wait for its answer."""
        ...


class OriginateReason(enum.IntEnum):
    """`OriginateResponse` Reason codes (the dialled party's fate)."""

    FAILED = 0
    HANGUP = 1
    RINGING = 3  # no answer in the time given
    ANSWERED = 4
    BUSY = 5
    CONGESTION = 8


@dataclass(frozen=True, slots=True)
class OriginateOutcome:
    """What became of an originated call."""

    success: bool
    reason: OriginateReason | None
    uniqueid: str
    channel: str

    @classmethod
    def from_event(cls, event: Message) -> OriginateOutcome:
        """Read an `OriginateResponse` event."""
        try:
            reason: OriginateReason | None = OriginateReason(int(event.get("Reason", "")))
        except ValueError:
            reason = None
        return cls(
            success=event.get("Response", "").lower() == "success",
            reason=reason,
            uniqueid=event.get("Uniqueid", ""),
            channel=event.get("Channel", ""),
        )


@dataclass(frozen=True, slots=True)
class Originated:
    """An Originate Asterisk accepted; `outcome()` waits for the dialled side's fate."""

    action_id: str
    _follow_up: asyncio.Future[Message]

    async def outcome(self, within: float) -> OriginateOutcome:
        """The `OriginateResponse`, or `AmiActionError` when it does not come in time."""
        try:
            async with asyncio.timeout(within):
                event = await asyncio.shield(self._follow_up)
        except TimeoutError:
            raise AmiActionError("Originate: no OriginateResponse in time") from None
        return OriginateOutcome.from_event(event)


async def originate(
    ami: ActionSender,
    *,
    channel: str,
    context: str,
    exten: str,
    priority: int = 1,
    caller_id: str | None = None,
    ring_seconds: float = 30.0,
    variables: Mapping[str, str] | None = None,
    account: str | None = None,
    within: float | None = None,
) -> Originated:
    """Ring `channel`; when it answers, send it to `exten@context`. Returns once Asterisk queued it."""
    headers = {
        "Channel": channel,
        "Context": context,
        "Exten": exten,
        "Priority": str(priority),
        "Timeout": str(int(ring_seconds * 1000)),
        "Async": "true",
    }
    if caller_id:
        headers["CallerID"] = caller_id
    if account:
        headers["Account"] = account
    if variables:
        # one Variable header per pair would collide in a mapping; Asterisk also takes a comma list
        headers["Variable"] = values.variables(variables)
    result = await ami.send("Originate", headers, within=within, follow_event="OriginateResponse")
    assert result.follow_up is not None
    return Originated(result.response.get("ActionID", ""), result.follow_up)


async def hangup(ami: ActionSender, channel: str, cause: int = 16, *, within: float | None = None) -> None:
    """Hang up `channel` (a name, or a /regex/) with the given cause (16: normal clearing)."""
    await ami.send("Hangup", {"Channel": channel, "Cause": str(cause)}, within=within)


async def redirect(
    ami: ActionSender,
    channel: str,
    *,
    context: str,
    exten: str,
    priority: int = 1,
    extra_channel: str | None = None,
    within: float | None = None,
) -> None:
    """Send `channel` (and optionally its peer `extra_channel`) to `exten@context`."""
    headers = {"Channel": channel, "Context": context, "Exten": exten, "Priority": str(priority)}
    if extra_channel:
        headers |= {
            "ExtraChannel": extra_channel,
            "ExtraContext": context,
            "ExtraExten": exten,
            "ExtraPriority": str(priority),
        }
    await ami.send("Redirect", headers, within=within)


async def blind_transfer(
    ami: ActionSender, channel: str, *, context: str, exten: str, within: float | None = None
) -> None:
    """Blind-transfer the peer of `channel` to `exten@context` ("sent to the dialplan" only)."""
    await ami.send("BlindTransfer", {"Channel": channel, "Context": context, "Exten": exten}, within=within)


async def atxfer(
    ami: ActionSender, channel: str, *, exten: str, context: str, within: float | None = None
) -> None:
    """Start an attended transfer from `channel` to `exten@context` (needs features.conf atxfer)."""
    await ami.send("Atxfer", {"Channel": channel, "Exten": exten, "Context": context}, within=within)


async def core_show_channels(ami: ActionSender, *, within: float | None = None) -> tuple[Message, ...]:
    """The channels alive now (one CoreShowChannel event each)."""
    result = await ami.send("CoreShowChannels", within=within, list_end="CoreShowChannelsComplete")
    return result.events

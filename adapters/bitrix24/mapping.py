"""Pure rules from a `Call` to Bitrix24's telephony fields: type, status code, who is responsible.

No I/O here: each rule is a small function the tests call directly.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

from adapters.reasons import reason_of, reason_text
from connector.calls.model import Call, Direction, Disposition, Leg

OUTGOING, INCOMING, INCOMING_REDIRECTED, CALLBACK = 1, 2, 3, 4

# Q.850 hangup causes of calls nobody answered → Bitrix24 STATUS_CODE.
_CAUSES = {
    1: "404",  # unallocated number
    3: "404",  # no route to destination
    28: "404",  # invalid number format
    17: "486",  # user busy
    21: "603",  # call rejected
    18: "480",  # no user responding
    19: "480",  # no answer
    20: "480",  # subscriber absent
    34: "503",  # no circuit available
    38: "503",  # network out of order
    41: "503",  # temporary failure
    42: "503",  # congestion
    27: "503",  # destination out of order
}


def call_type(
    direction: Direction, did: str | None, callback_lines: tuple[str, ...], redirected: bool = False
) -> int:
    """TYPE for register: 1 outgoing, 2 incoming, 3 incoming with redirection, 4 callback."""
    if did and same_number(did, callback_lines):
        return CALLBACK
    if direction is Direction.OUTBOUND:
        return OUTGOING
    return INCOMING_REDIRECTED if redirected else INCOMING


# The record's reason (issue 24) → STATUS_CODE, for the calls no employee answered. Inbound calls
# that never reached a free employee are the company's missed calls (304): Bitrix24 lists them as
# missed and counts them for the responsible; the reason itself goes to FAILED_REASON.
_REASONS_INBOUND = {
    "closed_hours": "304",
    "ivr_abandon": "304",
    "voicemail": "304",
    "announcement": "304",
    "caller_gave_up": "304",
    "no_answer": "304",
    "no_route": "304",
    "busy_on_call": "486",
}
_REASONS_OUTBOUND = {"no_route": "404", "busy_on_call": "486", "no_answer": "480", "caller_gave_up": "603-S"}


def status_code(call: Call) -> str:
    """STATUS_CODE for finish, from the reason, the disposition and the hangup cause."""
    if call.disposition is Disposition.ANSWERED:
        return "200"
    reason = reason_of(call)
    table = _REASONS_OUTBOUND if call.direction is Direction.OUTBOUND else _REASONS_INBOUND
    if reason in table:
        return table[reason]
    if call.disposition is Disposition.BUSY or call.hangup_cause == 17:
        return "486"
    if call.hangup_cause == 21:
        return "603"
    if call.disposition is Disposition.CANCELLED:
        # The client gave up while it rang: a missed call for the company; our employee
        # cancelling an outgoing call is Bitrix24's "cancelled".
        return "304" if call.direction is Direction.INBOUND else "603-S"
    if call.disposition is Disposition.FAILED:
        return _CAUSES.get(call.hangup_cause or 0, "503")
    if call.disposition is Disposition.NO_ANSWER and call.direction is Direction.OUTBOUND:
        return "480"
    return "304"


def failed_reason(call: Call) -> dict[str, str]:
    """FAILED_REASON for finish: why nobody talked, in Russian (nothing for answered calls)."""
    text = reason_text(call) if call.disposition is not Disposition.ANSWERED else None
    return {"FAILED_REASON": text} if text else {}


def main_leg(call: Call) -> Leg | None:
    """The leg that talked longest (the first of equals), or None when nobody talked."""
    best: Leg | None = None
    for leg in call.legs:
        if best is None or leg.talk_seconds > best.talk_seconds:
            best = leg
    return best


def responsible_extension(call: Call, missed_responsible: str) -> str | None:
    """Who the call is finished for: the longest talker, else who answered; for a missed call
    the configured responsible, else the first employee whose phone rang."""
    leg = main_leg(call)
    if leg is not None:
        return leg.extension
    if call.answered_by:
        return call.answered_by
    if missed_responsible:
        return missed_responsible
    return call.rang[0] if call.rang else None


def other_legs(call: Call) -> list[tuple[int, Leg]]:
    """The transfer legs besides the main one, numbered by their place in the call."""
    main = main_leg(call)
    return [(index, leg) for index, leg in enumerate(call.legs) if leg is not main]


def start_date(moment: datetime, timezone: str) -> str:
    """ISO-8601 with the offset, in the portal's time zone (Bitrix24 wants the offset)."""
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).isoformat(timespec="seconds")


def digits(phone: str) -> str:
    """Only the digits of a number."""
    return re.sub(r"\D", "", phone)


def same_number(phone: str, numbers: tuple[str, ...]) -> bool:
    """Whether `phone` is one of `numbers`, compared by their last ten digits."""
    tail = digits(phone)[-10:]
    return bool(tail) and any(digits(n)[-10:] == tail for n in numbers)


def portal_phone(phone: str) -> str:
    """The number as sent to the portal: E.164 without the plus sign, digits only."""
    return digits(phone) or phone

"""The SMS to a caller nobody answered: a template, in working hours, once per number per day.

Called where a finished call is filed (`BuiltinAdapter.log_call`, first delivery only). Only an
inbound unanswered call from a Russian mobile number (+79…) that is not spam and not on the
opt-out list gets one, and only when the call started inside `hours` of the company's day
(CRM settings → time zone): a caller at night is not woken by an SMS. The (number, local day)
pair is claimed in the database before the message is queued, so two missed calls, or one
call delivered twice, make one SMS.
"""

from __future__ import annotations

from datetime import datetime, time, tzinfo
from zoneinfo import ZoneInfo

from adapters.builtin import sms_text
from adapters.builtin.board import get_settings
from adapters.builtin.db import Row
from adapters.builtin.periods import local_tz
from adapters.builtin.sms_settings import SmsSettings
from adapters.builtin.sms_store import SmsStore
from connector import logs

log = logs.get_logger(__name__)


def in_hours(moment: datetime, hours: str) -> bool:
    """Whether `moment` (local) falls in ``HH:MM-HH:MM`` (a span past midnight wraps)."""
    start_text, end_text = hours.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    now = moment.time()
    return start <= now < end if start <= end else now >= start or now < end


async def _company_tz(sms: SmsStore) -> tzinfo:
    name = (await get_settings(sms.db))["timezone"]
    return ZoneInfo(name) if name else local_tz()


async def on_missed_call(sms: SmsStore, settings: SmsSettings, call: Row) -> Row | None:
    """Queue the missed-call SMS for `call` (a stored call row) when it deserves one; the message."""
    rule = settings.missed_call
    if not (settings.enabled and rule.enabled):
        return None
    phone = str(call["phone"])
    if call["direction"] != "inbound" or call["disposition"] == "answered" or call.get("spam"):
        return None
    if not phone.startswith("+79") or await sms.opted_out(phone):
        return None
    local = datetime.fromisoformat(str(call["started_at"]).replace("Z", "+00:00")).astimezone(
        await _company_tz(sms)
    )
    if not in_hours(local, rule.hours):
        return None
    day = local.date().isoformat()
    if not await sms.claim_missed(phone, day):
        return None
    text = rule.template.replace("{company}", rule.company).strip()[: sms_text.MAX_CHARS]
    senders = settings.allowed_senders()
    message = await sms.enqueue(
        phone,
        text,
        senders[0] if senders else "",
        client_id=call["client_id"],
        author_id=None,
        origin="missed-call",
        segments=sms_text.count(text).segments,
    )
    await sms.link_missed(phone, day, int(message["id"]))
    log.info("sms.missed_call_queued", call_id=call["id"], message_id=message["id"])
    return message

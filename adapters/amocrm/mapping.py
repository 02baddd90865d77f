"""Pure rules that turn a finished `Call` into amoCRM's words: no I/O, easy to test alone.

- the kind of call (incoming/missed/outgoing × known/unknown, failed outgoing) that selects the
  per-line entity rule;
- call_status from the disposition (4 conversation held, 7 busy, 3 not available, 6 could not get
  through) and a human call_result;
- the responsible user by the configured rule (who answered, first/last who rang, the contact's
  responsible, a fixed user); outgoing calls always belong to the employee who called;
- the bodies of POST /api/v4/calls, /{entity}/notes and /leads/unsorted/sip. amoCRM refuses
  nulls in many fields, so absent values are left out, never sent as null.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.amocrm.settings import EntityRule, LineSettings, ResponsibleRule, ResponsibleSettings
from adapters.reasons import reason_of, reason_text
from connector.calls.model import Call, Direction, Disposition
from connector.crm import Contact

UserOf = Callable[[str | None], int | None]

STATUS_HELD, STATUS_NOT_AVAILABLE, STATUS_NO_ANSWER, STATUS_BUSY = 4, 3, 6, 7
_STATUS = {
    Disposition.ANSWERED: STATUS_HELD,
    Disposition.BUSY: STATUS_BUSY,
    Disposition.FAILED: STATUS_NOT_AVAILABLE,
    Disposition.MISSED: STATUS_NO_ANSWER,
    Disposition.NO_ANSWER: STATUS_NO_ANSWER,
    Disposition.CANCELLED: STATUS_NO_ANSWER,
}
_RESULT = {
    Disposition.ANSWERED: "Разговор состоялся",
    Disposition.BUSY: "Занято",
    Disposition.FAILED: "Номер недоступен",
    Disposition.MISSED: "Пропущенный вызов",
    Disposition.NO_ANSWER: "Нет ответа",
    Disposition.CANCELLED: "Вызов отменён",
}


def answered(call: Call) -> bool:
    """Whether someone talked to the client."""
    return call.disposition is Disposition.ANSWERED


def kind_of(call: Call, known: bool) -> str:
    """The call type the per-line rules use, e.g. "missed_unknown" or "outgoing_failed"."""
    who = "known" if known else "unknown"
    if call.direction is Direction.OUTBOUND:
        return f"outgoing_{who}" if answered(call) else "outgoing_failed"
    return f"incoming_{who}" if answered(call) else f"missed_{who}"


def entity_rule(line: LineSettings, call: Call, known: bool) -> EntityRule:
    """What to create for this call on its line."""
    rule: EntityRule = getattr(line, kind_of(call, known))
    return rule


def employee(call: Call) -> str | None:
    """The employee the call is about: who called (outgoing) or who answered (incoming)."""
    if call.direction is Direction.OUTBOUND:
        if call.legs:
            return call.legs[0].extension
        return call.answered_by or (call.rang[0] if call.rang else None)
    return call.answered_by


def responsible(
    call: Call, rules: ResponsibleSettings, contact: Contact | None, user_of: UserOf
) -> int | None:
    """The amoCRM user responsible for the call (and what it creates); None → the PBX itself."""
    if call.direction is Direction.OUTBOUND:
        return user_of(employee(call))
    known = contact is not None
    rule: ResponsibleRule
    if answered(call):
        rule = rules.answered_known if known else rules.answered_unknown
    else:
        rule = rules.missed_known if known else rules.missed_unknown
    chosen = _by_rule(rule, call, rules, contact, user_of)
    return chosen if chosen is not None else _contact_user(contact)


def _by_rule(
    rule: ResponsibleRule, call: Call, rules: ResponsibleSettings, contact: Contact | None, user_of: UserOf
) -> int | None:
    if rule == "fixed":
        return rules.fixed_user_id or None
    if rule == "contact":
        return _contact_user(contact) or user_of(call.answered_by or (call.rang[0] if call.rang else None))
    if rule == "first":
        return user_of(call.rang[0] if call.rang else call.answered_by)
    if rule == "last":
        last = call.legs[-1].extension if call.legs else (call.rang[-1] if call.rang else None)
        return user_of(last)
    return user_of(call.answered_by)


def _contact_user(contact: Contact | None) -> int | None:
    if contact is None or not contact.responsible_user_id:
        return None
    return int(contact.responsible_user_id) if contact.responsible_user_id.isdigit() else None


# The record's reason (issue 24) → call_status when nobody talked: 1 left a message, 3 not
# available, 5 wrong number, 7 busy; the rest stay "could not get through" (6).
STATUS_MESSAGE, STATUS_WRONG_NUMBER = 1, 5
_REASON_STATUS = {
    "closed_hours": STATUS_NOT_AVAILABLE,
    "busy_on_call": STATUS_BUSY,
    "no_route": STATUS_WRONG_NUMBER,
}


def call_status(call: Call) -> int:
    """amoCRM's call_status for the disposition and, for calls nobody took, the reason."""
    reason = reason_of(call) if not answered(call) else None
    if reason == "voicemail" and call.voicemail_left:
        return STATUS_MESSAGE
    if reason in _REASON_STATUS:
        return _REASON_STATUS[reason]
    return _STATUS[call.disposition]


def call_result(
    call: Call, employee_name: str | None, source: str, line_name: str, more_links: tuple[str, ...] = ()
) -> str:
    """A short human summary: outcome, the reason, the employee (the PBX when unmapped), transfers,
    the line, and the links of the other legs' recordings (a call carries one `link`)."""
    parts = [_RESULT[call.disposition]]
    reason = reason_text(call) if not answered(call) else None
    if reason:
        parts.append(f"причина: {reason}")
    who = employee(call)
    if who:
        parts.append(f"сотрудник: {employee_name or source} ({who})")
    if call.transfers:
        chain = " → ".join([call.transfers[0].from_ext, *(t.to_ext for t in call.transfers)])
        parts.append(f"перевод: {chain}")
    if call.queue:
        parts.append(f"очередь: {call.queue}")
    if line_name:
        parts.append(f"линия: {line_name}")
    for number, link in enumerate(more_links, start=2):
        parts.append(f"запись {number}: {link}")
    return " | ".join(parts)


def render(template: str, call: Call, line_name: str) -> str:
    """A name or task text from its template: {phone}, {did}, {line}, {ext}, {date}."""
    values = {
        "phone": call.client,
        "did": call.did or "",
        "line": line_name or call.did or "",
        "ext": employee(call) or (call.rang[0] if call.rang else ""),
        "date": call.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
    }
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError):
        return template  # a bad template is shown as written rather than losing the entity


def duration(call: Call) -> int:
    """Talk time in whole seconds (0 when nobody answered)."""
    return round(call.talk_seconds)


def unix(moment: datetime) -> int:
    """A Unix timestamp (amoCRM's time format)."""
    return int(moment.timestamp())


def call_body(
    call: Call, *, source: str, result: str, user_id: int | None, link: str, talker: int | None = None
) -> dict[str, Any]:
    """One item of POST /api/v4/calls; `talker` (call_responsible) is who is shown on the call:
    who answered an incoming call, who made an outgoing one."""
    body: dict[str, Any] = {
        "direction": "outbound" if call.direction is Direction.OUTBOUND else "inbound",
        "uniq": call.id,
        "duration": duration(call),
        "source": source,
        "phone": call.client,
        "call_result": result,
        "call_status": call_status(call),
        "created_at": unix(call.started_at),
        "request_id": call.id,
    }
    if user_id:
        body.update(responsible_user_id=user_id, created_by=user_id)
    if talker:
        body["call_responsible"] = talker
    if link:
        body["link"] = link
    return body


def note_body(
    call: Call,
    entity_id: int,
    *,
    source: str,
    result: str,
    user_id: int | None,
    link: str,
    talker: int | None = None,
) -> dict[str, Any]:
    """One item of POST /api/v4/{entity}/notes (a call_in / call_out note)."""
    params: dict[str, Any] = {
        "uniq": call.id,
        "duration": duration(call),
        "source": source,
        "phone": call.client,
        "call_result": result,
        "call_status": call_status(call),
    }
    if link:
        params["link"] = link
    if talker:
        params["call_responsible"] = talker
    body: dict[str, Any] = {
        "entity_id": entity_id,
        "note_type": "call_out" if call.direction is Direction.OUTBOUND else "call_in",
        "params": params,
        "request_id": call.id,
    }
    if user_id:
        body.update(responsible_user_id=user_id, created_by=user_id)
    return body


def unsorted_body(
    call: Call,
    line: LineSettings,
    *,
    source: str,
    service_code: str,
    user_id: int | None,
    link: str,
    line_name: str,
    talker: int | None = None,
) -> dict[str, Any]:
    """One item of POST /api/v4/leads/unsorted/sip: the lead and contact amoCRM creates, and the call."""
    metadata: dict[str, Any] = {
        "from": call.client,
        "phone": call.client,
        "called_at": unix(call.started_at),
        "duration": duration(call),
        "service_code": service_code,
        "uniq": call.id,
        "is_call_event_needed": True,
    }
    if link:
        metadata["link"] = link
    if talker:
        metadata["call_responsible"] = talker
    contact: dict[str, Any] = {
        "name": render(line.contact_name, call, line_name),
        "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": call.client, "enum_code": "WORK"}]}
        ],
    }
    lead: dict[str, Any] = {"name": render(line.lead_name, call, line_name)}
    if user_id:
        contact["responsible_user_id"] = user_id
        lead["responsible_user_id"] = user_id
    body: dict[str, Any] = {
        "source_uid": call.id,
        "source_name": source,
        "created_at": unix(call.started_at),
        "request_id": call.id,
        "metadata": metadata,
        "_embedded": {"contacts": [contact], "leads": [lead]},
    }
    if line.pipeline_id is not None:
        body["pipeline_id"] = line.pipeline_id
    return body

"""Why a call ended the way it did, in the words a CRM user reads (issue 24's `reason`).

The tracker puts `reason` on the call record (closed_hours, ivr_abandon, voicemail, announcement,
busy_on_call, no_route, caller_gave_up, no_answer; docs/capture-format.md). CRMs show it as text:
amoCRM in the call's result and in a note, Bitrix24 as finish's FAILED_REASON. A record written
before the field existed (an old outbox row) has none, and then nothing is added.
"""

from __future__ import annotations

from connector.calls.model import Call

LABELS: dict[str, str] = {
    "closed_hours": "Звонок в нерабочее время",
    "ivr_abandon": "Клиент положил трубку в голосовом меню",
    "voicemail": "Звонок ушёл на голосовую почту",
    "announcement": "Прозвучало объявление, соединения с сотрудником не было",
    "busy_on_call": "Сотрудник был занят другим разговором",
    "no_route": "Нет маршрута для набранного номера",
    "caller_gave_up": "Клиент не дождался ответа",
    "no_answer": "Никто не ответил",
}


def reason_of(call: Call) -> str | None:
    """The call's reason code ("closed_hours", ...), or None (answered, or an old record)."""
    return call.reason.value if call.reason is not None else None


def reason_text(call: Call) -> str | None:
    """The reason in Russian; for voicemail with the mailbox and whether a message was left."""
    code = reason_of(call)
    if code is None:
        return None
    text = LABELS.get(code, code)
    if code == "voicemail":
        if call.voicemail_left:
            text = "Клиент оставил сообщение на голосовой почте"
        if call.voicemail_box:
            text += f" (ящик {call.voicemail_box})"
    return text

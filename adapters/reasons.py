"""Why a call ended the way it did, in the words a CRM user reads (issue 24's `reason`).

The tracker puts `reason` on the call record (closed_hours, ivr_abandon, voicemail, announcement,
busy_on_call, no_route, caller_gave_up, no_answer). CRMs show it as text: amoCRM in the call's
result and note, Bitrix24 as finish's FAILED_REASON. Read defensively: a record written before the
field existed (an old outbox row) has none, and an unknown value is shown as it is.
"""

from __future__ import annotations

from typing import Any

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


def reason_of(call: Any) -> str | None:
    """The call's reason code ("closed_hours", ...), or None when the record carries none."""
    value = getattr(call, "reason", None)
    if value is None or value == "":
        return None
    return str(getattr(value, "value", value))


def _detail(call: Any) -> dict[str, Any]:
    for name in ("reason_detail", "voicemail"):
        value = getattr(call, name, None)
        if isinstance(value, dict):
            return value
    return {}


def reason_text(call: Any) -> str | None:
    """The reason in Russian, with the mailbox and whether a message was left for voicemail."""
    code = reason_of(call)
    if code is None:
        return None
    text = LABELS.get(code, code)
    if code == "voicemail":
        detail = _detail(call)
        left = detail.get("message") or detail.get("message_left") or detail.get("left")
        if left:
            text = "Клиент оставил сообщение на голосовой почте"
        if detail.get("mailbox"):
            text += f" (ящик {detail['mailbox']})"
    return text

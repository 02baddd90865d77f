"""SMSC.ru's HTTP API (smsc.ru/api/http): send.php, status.php, balance.php with fmt=3 (JSON).

Why SMSC.ru: its send request takes the message id from the client (`id`), and status.php
answers by that id and the phone. The CRM gives each message its row id, so a request whose
answer was lost (timeout, crash, restart) is settled by asking the status of that id
instead of sending again. SMS.ru makes up its own ids and returns them only in the answer,
which a lost answer takes with it. SMSC.ru also documents its limits as error 9 (the same send
twice within a minute, more than 15 requests at once, more than five status requests for one
message a minute), which a fake can hold the client to.

Requests are POSTed as a form (the password never lands in a URL or an access log) with
``charset=utf-8`` (the default is windows-1251) and ``fmt=3``. An error answer is
``{"error": "...", "error_code": N}``; codes are mapped to `sms_provider` errors here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from adapters.builtin.sms_provider import (
    Accepted,
    Delivery,
    Quote,
    Report,
    SmsAuthError,
    SmsBlockedError,
    SmsError,
    SmsFundsError,
    SmsRejected,
    SmsUnsure,
)
from adapters.builtin.sms_settings import SmsSettings

# send.php error codes → (error class, what it means in Russian)
SEND_ERRORS: dict[int, tuple[type[SmsError], str]] = {
    1: (SmsRejected, "ошибка в параметрах"),
    2: (SmsAuthError, "неверный логин или пароль"),
    3: (SmsFundsError, "недостаточно средств на счёте"),
    4: (SmsBlockedError, "IP-адрес временно заблокирован из-за частых ошибок"),
    5: (SmsRejected, "неверный формат даты"),
    6: (SmsRejected, "сообщение запрещено (по тексту или имени отправителя)"),
    7: (SmsRejected, "неверный формат номера телефона"),
    8: (SmsRejected, "сообщение на этот номер не может быть доставлено"),
    9: (SmsUnsure, "слишком много одинаковых или одновременных запросов"),
}
# status.php "status" → (delivery, words); -3 means the provider has never seen the message
STATUSES: dict[int, tuple[Delivery | None, str]] = {
    -3: (None, "сообщение не найдено"),
    -1: (Delivery.SENT, "ожидает отправки"),
    0: (Delivery.SENT, "передано оператору"),
    1: (Delivery.DELIVERED, "доставлено"),
    2: (Delivery.READ, "прочитано"),
    3: (Delivery.EXPIRED, "просрочено"),
    20: (Delivery.FAILED, "невозможно доставить"),
    22: (Delivery.FAILED, "неверный номер"),
    23: (Delivery.FAILED, "запрещено"),
    24: (Delivery.FAILED, "недостаточно средств"),
    25: (Delivery.FAILED, "недоступный номер"),
}


class SmscProvider:
    """An `SmsProvider` on one SMSC.ru account; the HTTP session is the caller's."""

    def __init__(self, session: aiohttp.ClientSession, settings: SmsSettings) -> None:
        self.session = session
        self.settings = settings
        self.base = settings.base_url.rstrip("/")

    def _auth(self) -> dict[str, str]:
        if self.settings.api_key:
            return {"apikey": self.settings.api_key.get()}
        return {"login": self.settings.login, "psw": self.settings.password.get()}

    async def _call(self, script: str, form: dict[str, str]) -> dict[str, Any]:
        data = {**self._auth(), **form, "fmt": "3", "charset": "utf-8"}
        try:
            async with asyncio.timeout(self.settings.timeout):
                async with self.session.post(f"{self.base}/sys/{script}", data=data) as response:
                    body = await response.read()
                    status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SmsUnsure(f"SMSC.ru не ответил: {type(exc).__name__}") from exc
        if status != 200:
            raise SmsUnsure(f"SMSC.ru ответил HTTP {status}")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise SmsUnsure("SMSC.ru прислал не JSON") from exc
        if not isinstance(answer, dict):
            raise SmsUnsure("SMSC.ru прислал неожиданный ответ")
        if "error_code" in answer:
            raise _error(answer)
        return answer

    async def send(self, message_id: int, phone: str, text: str, sender: str) -> Accepted:
        """send.php with our id; cost=3 asks for the price and the balance in the answer."""
        form = {"phones": phone, "mes": text, "id": str(message_id), "cost": "3"}
        if sender:
            form["sender"] = sender
        answer = await self._call("send.php", form)
        cost, balance = _number(answer.get("cost")), _number(answer.get("balance"))
        return Accepted(int(answer.get("cnt", 1)), cost, balance)

    async def status(self, message_id: int, phone: str) -> Report:
        """status.php by our id and the phone."""
        answer = await self._call("status.php", {"phone": phone, "id": str(message_id)})
        code = int(answer.get("status", -3))
        delivery, words = STATUSES.get(code, (Delivery.SENT, f"статус {code}"))
        return Report(delivery, code, words)

    async def balance(self) -> float:
        """balance.php."""
        answer = await self._call("balance.php", {})
        value = _number(answer.get("balance"))
        if value is None:
            raise SmsUnsure("SMSC.ru не назвал баланс")
        return value

    async def quote(self, phones: list[str], text: str, sender: str) -> Quote:
        """send.php with cost=1: the price only, nothing is sent."""
        form = {"phones": ",".join(phones), "mes": text, "cost": "1"}
        if sender:
            form["sender"] = sender
        answer = await self._call("send.php", form)
        return Quote(_number(answer.get("cost")) or 0.0, int(answer.get("cnt", 0)))


def _error(answer: dict[str, Any]) -> SmsError:
    try:
        code = int(answer["error_code"])
    except (TypeError, ValueError):
        return SmsUnsure(f"SMSC.ru: {answer.get('error', 'ошибка')}")
    kind, words = SEND_ERRORS.get(code, (SmsUnsure, str(answer.get("error", "неизвестная ошибка"))))
    return kind(f"SMSC.ru, ошибка {code}: {words}", code)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

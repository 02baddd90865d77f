"""A fake SMSC.ru: a real aiohttp server on 127.0.0.1 speaking its HTTP API as documented.

smsc.ru/api/http: /sys/send.php, /sys/status.php and /sys/balance.php, GET or POST, fmt=3 (JSON).
What it holds a client to, as the documentation says:

- authorisation by login + psw or apikey; wrong → error 2;
- charset: without ``charset=utf-8`` the text is read as windows-1251 (the service's default),
  so a client that forgets it sends mojibake, which the tests can see;
- send: phones and mes required, mes at most 1000 characters (error 1); a phone that is not an
  international number → error 7; a number marked undeliverable → error 8; a sender name not
  registered on the account → error 6; not enough money for the whole request → error 3;
- error 9 (the limits): the same send request twice within a minute, more than five identical
  cost requests a minute, more than five status requests for one message a minute, more than
  ten balance requests a minute, or more than 15 requests at once;
- the message id given by the client (``id``) keys the message with the phone; status.php
  answers ``{"status": -3}`` for a message it has never seen;
- cost: segments (160/153 Latin, 70/67 otherwise) × phones × `price`; cost=2 adds the cost to
  the answer, cost=3 the balance too; cost=1 prices without sending.

Tests steer it: `deliver(id, phone, code)` sets a status, `undeliverable` and `senders` hold
numbers and names, `hold` makes send requests wait (to kill a client mid-request), `clock`
is injectable so the per-minute windows can be crossed without waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

LATIN = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f"
)
ERRORS = {
    1: "parameters error",
    2: "authorise error",
    3: "no money",
    6: "message is denied",
    7: "invalid number",
    8: "can't deliver sms to this number",
    9: "duplicate request, wait a minute",
}


@dataclass(slots=True)
class Message:
    """A message the fake took."""

    id: int
    phone: str
    text: str
    sender: str
    segments: int
    cost: float
    at: float
    status: int = 0  # 0: передано оператору


@dataclass(slots=True)
class FakeSmsc:
    """The fake service; `url` is its base once `start()` returned."""

    login: str = "crm"
    password: str = "secret-psw"
    apikey: str = ""
    balance: float = 100.0
    price: float = 2.5  # per SMS segment
    senders: set[str] = field(default_factory=lambda: {"Shop"})
    undeliverable: set[str] = field(default_factory=set)
    clock: Callable[[], float] = time.monotonic
    messages: dict[tuple[int, str], Message] = field(default_factory=dict)
    sends: list[Message] = field(default_factory=list)  # every accepted send, in order
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (script, params)
    refusals: list[int] = field(default_factory=list)  # error codes answered, in order
    hold: asyncio.Event | None = None  # when given (and not set), a taken send waits for it to answer
    held: asyncio.Event = field(default_factory=asyncio.Event)  # a send request is waiting
    in_flight: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _windows: dict[Any, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _next_id: int = 1_000_000
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        for script in ("send", "status", "balance"):
            app.router.add_route("*", f"/sys/{script}.php", self._handler(script))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop listening."""
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def deliver(self, message_id: int, phone: str, code: int = 1) -> None:
        """Set a message's status code (1 delivered, 20 impossible to deliver, ...)."""
        self.messages[(message_id, phone.lstrip("+"))].status = code

    async def wait_in_flight(self, count: int) -> None:
        """Return once `count` requests are being answered at the same time."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: self.in_flight >= count)

    def sent_to(self, phone: str) -> int:
        """How many SMS requests were accepted for `phone`."""
        return sum(1 for m in self.sends if m.phone == phone.lstrip("+"))

    # --- plumbing -------------------------------------------------------------------------

    def _handler(self, script: str) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            params = {**request.query, **(await request.post())}
            params = {k: str(v) for k, v in params.items()}
            self.requests.append((script, params))
            self.in_flight += 1
            async with self._arrived:
                self._arrived.notify_all()
            try:
                if self.in_flight > 15:
                    return self._refuse(9)
                if not self._authorised(params):
                    return self._refuse(2)
                return await getattr(self, f"_{script}")(_decoded(params))
            finally:
                self.in_flight -= 1

        return handle

    def _refuse(self, code: int) -> web.Response:
        self.refusals.append(code)
        return _error(code)

    def _authorised(self, params: dict[str, str]) -> bool:
        if self.apikey and params.get("apikey") == self.apikey:
            return True
        return params.get("login") == self.login and params.get("psw") == self.password

    def _over(self, key: Any, limit: int) -> bool:
        """Count one more request under `key`; whether it is over `limit` a minute."""
        window = self._windows[key]
        now = self.clock()
        while window and window[0] <= now - 60:
            window.popleft()
        window.append(now)
        return len(window) > limit

    # --- the three scripts ----------------------------------------------------------------

    async def _send(self, params: dict[str, str]) -> web.Response:
        listed = params.get("phones", "").replace(";", ",").split(",")
        phones = [p.strip().lstrip("+") for p in listed if p.strip()]
        text = params.get("mes", "")
        if not phones or not text or len(text) > 1000:
            return self._refuse(1)
        identical = ("send", tuple(sorted((k, v) for k, v in params.items() if k not in ("psw", "apikey"))))
        quoting = params.get("cost") == "1"
        if self._over(identical, 5 if quoting else 1):
            return self._refuse(9)
        sender = params.get("sender", "")
        if sender and sender not in self.senders:
            return self._refuse(6)
        if any(not (p.isdigit() and 10 <= len(p) <= 15) for p in phones):
            return self._refuse(7)
        if any(p in self.undeliverable for p in phones):
            return self._refuse(8)
        segments = _segments(text)
        cost = round(segments * self.price * len(phones), 2)
        if quoting:
            return web.json_response({"cost": f"{cost:.2f}", "cnt": segments * len(phones)})
        if cost > self.balance:
            return self._refuse(3)
        answer = self._accept(params, phones, segments, cost)
        if self.hold is not None and not self.hold.is_set():  # taken, but the answer is late
            self.held.set()
            await self.hold.wait()
        return answer

    def _accept(self, params: dict[str, str], phones: list[str], segments: int, cost: float) -> web.Response:
        text, sender = params["mes"], params.get("sender", "")
        self.balance = round(self.balance - cost, 2)
        if params.get("id"):
            message_id = int(params["id"])
        else:
            self._next_id += 1
            message_id = self._next_id
        for phone in phones:
            message = Message(message_id, phone, text, sender, segments, cost / len(phones), self.clock())
            self.messages[(message_id, phone)] = message
            self.sends.append(message)
        answer: dict[str, Any] = {"id": message_id, "cnt": segments * len(phones)}
        if params.get("cost") in ("2", "3"):
            answer["cost"] = f"{cost:.2f}"
        if params.get("cost") == "3":
            answer["balance"] = f"{self.balance:.2f}"
        return web.json_response(answer)

    async def _status(self, params: dict[str, str]) -> web.Response:
        phone, raw_id = params.get("phone", "").lstrip("+"), params.get("id", "")
        if not phone or not raw_id.isdigit():
            return self._refuse(1)
        if self._over(("status", raw_id, phone), 5):
            return self._refuse(9)
        message = self.messages.get((int(raw_id), phone))
        if message is None:
            return web.json_response({"status": -3, "last_date": "", "last_timestamp": 0})
        return web.json_response(
            {"status": message.status, "last_date": "", "last_timestamp": int(message.at), "err": 0}
        )

    async def _balance(self, params: dict[str, str]) -> web.Response:
        if self._over("balance", 10):
            return self._refuse(9)
        return web.json_response({"balance": f"{self.balance:.2f}"})


def _error(code: int) -> web.Response:  # (the fake's own refusals go through FakeSmsc._refuse)
    # SMSC.ru answers errors with HTTP 200 and the code in the body
    return web.json_response({"error": ERRORS[code], "error_code": code})


def _decoded(params: dict[str, str]) -> dict[str, str]:
    """Without charset=utf-8 the service reads the bytes as windows-1251, as it does."""
    if params.get("charset", "").lower() == "utf-8":
        return params
    return {k: v.encode("utf-8").decode("cp1251", errors="replace") for k, v in params.items()}


def _segments(text: str) -> int:
    latin = all(ch in LATIN for ch in text)
    single, part = (160, 153) if latin else (70, 67)
    length = len(text) + (sum(1 for ch in text if ch in "^{}\\[~]|€\f") if latin else 0)
    return 1 if length <= single else math.ceil(length / part)

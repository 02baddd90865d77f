"""The SMS provider interface the CRM sends through, and its errors grouped by what the sender does.

    SmsError
    ├── SmsNotSent            the provider said no: nothing went out, the cause is known
    │   ├── SmsAuthError      wrong login/password/key: stop sending, tell the admin
    │   ├── SmsFundsError     the account is empty: pause mailings, tell the admin
    │   ├── SmsBlockedError   the provider blocks this address for a while: wait, retry
    │   └── SmsRejected       this message can never go (bad number, forbidden text or sender)
    └── SmsUnsure             no answer, or "too many requests": it may have gone out; ask status

The provider's message id is chosen by the CRM (the row id), so "may have gone out" is settled
by asking the status of that id: a restart or a timeout never sends a message twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class SmsError(Exception):
    """Anything that went wrong talking to the provider."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmsNotSent(SmsError):
    """The provider answered with an error: the message did not go out."""


class SmsAuthError(SmsNotSent):
    """The account's credentials were refused."""


class SmsFundsError(SmsNotSent):
    """Not enough money on the account."""


class SmsBlockedError(SmsNotSent):
    """The provider blocks requests from this address for a while (too many errors)."""


class SmsRejected(SmsNotSent):
    """This message cannot be sent as it is: a bad number, a forbidden text or sender name."""


class SmsUnsure(SmsError):
    """No clear answer (timeout, 5xx, "too many requests"): the message may or may not have gone."""


class Delivery(enum.StrEnum):
    """Where a message is, in the CRM's words (the feed and mailing pages translate them)."""

    QUEUED = "queued"  # waiting in the CRM (its time has not come, or the pace holds it)
    SENDING = "sending"  # handed to the provider; the answer not yet recorded
    SENT = "sent"  # the provider took it; not yet delivered
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # the provider or the network said it will not arrive
    EXPIRED = "expired"
    SKIPPED = "skipped"  # not sent on purpose: opted out, no usable number, mailing cancelled

    @property
    def final(self) -> bool:
        """Nothing will change this status any more."""
        return self in _FINAL


_FINAL = frozenset({Delivery.DELIVERED, Delivery.READ, Delivery.FAILED, Delivery.EXPIRED, Delivery.SKIPPED})


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took a message: how many SMS it counted and what it cost."""

    segments: int
    cost: float | None
    balance: float | None


@dataclass(frozen=True, slots=True)
class Report:
    """A status answer: `None` delivery when the provider has never seen the message."""

    delivery: Delivery | None
    code: int
    text: str  # the provider's status in words (Russian), for the feed's tooltip


@dataclass(frozen=True, slots=True)
class Quote:
    """What sending a text to some numbers would cost, by the provider's own count."""

    cost: float
    segments: int


class SmsProvider(Protocol):
    """Send, ask a status, ask the balance and a price; each call has its own timeout."""

    async def send(self, message_id: int, phone: str, text: str, sender: str) -> Accepted:
        """Send one SMS under the CRM's `message_id` (raises an `SmsError`)."""
        ...

    async def status(self, message_id: int, phone: str) -> Report:
        """Where the message `message_id` to `phone` is."""
        ...

    async def balance(self) -> float:
        """Money left on the account."""
        ...

    async def quote(self, phones: list[str], text: str, sender: str) -> Quote:
        """The price of sending `text` to `phones`, without sending."""
        ...

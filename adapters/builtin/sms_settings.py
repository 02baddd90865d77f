"""Options of the built-in CRM's SMS: the provider account, sender names, pacing, missed-call SMS.

Limits checked here come from SMSC.ru's documentation (error 9): no more than 15 requests at
once, five status requests for one message and ten balance requests a minute. The sender keeps
far below them: one request at a time, `status_interval` of at least 15 s between two status
requests for one message, the balance cached for `balance_cache` of at least 6 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connector.settings_schema import Secret

_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class MissedCallSms:
    """An SMS to a caller whose call nobody answered: once per number per day, in working hours."""

    enabled: bool = False
    template: str = "Мы пропустили ваш звонок и перезвоним в ближайшее время. {company}"
    company: str = ""  # put into {company} of the template
    hours: str = "09:00-21:00"  # the company's local time (settings → time zone)

    def __post_init__(self) -> None:
        if not _HOURS.match(self.hours):
            raise ValueError("hours must look like 09:00-21:00")
        if not self.template.strip():
            raise ValueError("template must not be empty")


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """The SMS provider account (SMSC.ru) and how the CRM uses it."""

    enabled: bool = False
    provider: str = "smsc"
    base_url: str = "https://smsc.ru"
    login: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    api_key: Secret = field(default_factory=lambda: Secret(""))  # instead of login + password
    sender: str = ""  # the default sender name (must be registered with the provider)
    senders: tuple[str, ...] = ()  # other registered names a mailing may choose
    rate: float = 2.0  # messages a second at most (one request at a time)
    timeout: float = 15.0  # seconds per provider request
    status_interval: float = 30.0  # seconds between two status checks of one message (>= 15)
    balance_cache: float = 30.0  # seconds a balance answer is reused (>= 6)
    price_per_sms: float = 0.0  # the tariff, for estimates when the provider cannot be asked
    max_recipients: int = 10000  # per mailing
    missed_call: MissedCallSms = field(default_factory=MissedCallSms)

    def __post_init__(self) -> None:
        if self.provider != "smsc":
            raise ValueError("provider must be smsc (SMSC.ru) for now")
        if not 0.05 <= self.rate <= 50:
            raise ValueError("rate must be between 0.05 and 50 messages a second")
        if self.status_interval < 15:
            raise ValueError("status_interval must be at least 15 s (SMSC.ru allows 5 a minute)")
        if self.balance_cache < 6:
            raise ValueError("balance_cache must be at least 6 s (SMSC.ru allows 10 a minute)")
        if not 1 <= self.max_recipients <= 100000:
            raise ValueError("max_recipients must be between 1 and 100000")
        if self.enabled and not (self.api_key or (self.login and self.password)):
            raise ValueError("give login and password, or api_key, to enable SMS")

    def allowed_senders(self) -> tuple[str, ...]:
        """The names a message may go out under (the default first)."""
        names = [self.sender, *self.senders] if self.sender else list(self.senders)
        return tuple(dict.fromkeys(n for n in names if n))

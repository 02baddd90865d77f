"""The `adapters.amocrm` YAML section as frozen dataclasses (validated by `connector.settings_schema`).

Every option is documented in config/connector.example.yaml. Checks that need several options at
once (e.g. OAuth needs client id, secret and redirect URI) live in `Settings.__post_init__` and
only apply when the adapter is enabled, so a disabled section may stay half filled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from connector.settings_schema import Secret
from connector.sync.ratelimit import RateLimit

ResponsibleRule = Literal["answered", "first", "last", "contact", "fixed"]
"""Who becomes responsible: who answered, the first/last extension that rang, the contact's
responsible user, or `responsible.fixed_user_id`."""


def _no_secret() -> Secret:
    return Secret("")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How the connector authenticates: OAuth2 (code once, then refresh rotation) or a long-lived token."""

    mode: Literal["oauth", "long_lived"] = "oauth"
    client_id: str = ""
    client_secret: Secret = field(default_factory=_no_secret)
    redirect_uri: str = ""
    auth_code: Secret = field(default_factory=_no_secret)
    long_lived_token: Secret = field(default_factory=_no_secret)
    refresh_margin_seconds: int = 300


@dataclass(frozen=True, slots=True)
class ResponsibleSettings:
    """Responsible user of logged calls and created entities, per answered/missed × known/unknown."""

    answered_known: ResponsibleRule = "answered"
    answered_unknown: ResponsibleRule = "answered"
    missed_known: ResponsibleRule = "contact"
    missed_unknown: ResponsibleRule = "first"
    fixed_user_id: int = 0


@dataclass(frozen=True, slots=True)
class EntityRule:
    """What to create in amoCRM for one kind of call on one line."""

    contact: bool = False
    lead: bool = False
    unsorted: bool = False
    task: bool = False


def _unsorted() -> EntityRule:
    return EntityRule(unsorted=True)


def _contact() -> EntityRule:
    return EntityRule(contact=True)


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Rules for calls on one DID (`did: "*"` is the default for every other line)."""

    did: str = "*"
    name: str = ""
    pipeline_id: int | None = None
    status_id: int | None = None
    contact_name: str = "Без имени"
    lead_name: str = "Звонок {phone}"
    task_text: str = "Перезвонить клиенту {phone}"
    task_deadline_minutes: int = 60
    task_type_id: int = 1
    incoming_known: EntityRule = field(default_factory=EntityRule)
    incoming_unknown: EntityRule = field(default_factory=_unsorted)
    missed_known: EntityRule = field(default_factory=EntityRule)
    missed_unknown: EntityRule = field(default_factory=_unsorted)
    outgoing_known: EntityRule = field(default_factory=EntityRule)
    outgoing_unknown: EntityRule = field(default_factory=_contact)
    outgoing_failed: EntityRule = field(default_factory=EntityRule)

    def __post_init__(self) -> None:
        if self.task_deadline_minutes < 0:
            raise ValueError("task_deadline_minutes must not be negative")


@dataclass(frozen=True, slots=True)
class WidgetSettings:
    """The endpoint the amoCRM call-panel widget calls for click-to-call, hang-up and transfer."""

    enabled: bool = False
    token: Secret = field(default_factory=_no_secret)
    # None until listed: the token sits in every amoCRM user's browser ("*" must be chosen).
    extensions: tuple[str, ...] = ()
    number_pattern: str = r"^\+?[0-9]{3,15}$"
    allowed_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            re.compile(self.number_pattern)
        except re.error as exc:
            raise ValueError(f"number_pattern is not a valid regular expression: {exc}") from exc
        if self.enabled and not self.token:
            raise ValueError("widget.token is required when the widget endpoint is enabled")


@dataclass(frozen=True, slots=True)
class Settings:
    """The amoCRM adapter's options (the `adapters.amocrm` section)."""

    enabled: bool = False
    domain: str = ""
    base_url: str = ""
    auth: AuthSettings = field(default_factory=AuthSettings)
    source: str = "MikoPBX"
    service_code: str = "mikopbx"
    log_as: Literal["calls", "notes"] = "calls"
    request_timeout: float = 15.0
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(6.0, 1, 4))
    lookup_cache_seconds: float = 60.0
    phone_book: bool = True  # numbers kept locally (by updated_at): a lookup costs no request
    phone_book_refresh_seconds: float = 10.0
    search_companies: bool = True
    users_refresh_seconds: float = 600.0
    users: dict[str, str] = field(default_factory=dict)
    responsible: ResponsibleSettings = field(default_factory=ResponsibleSettings)
    lines: tuple[LineSettings, ...] = ()
    widget: WidgetSettings = field(default_factory=WidgetSettings)

    def __post_init__(self) -> None:
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        if self.enabled:
            self._check_enabled()

    def _check_enabled(self) -> None:
        if not (self.domain or self.base_url):
            raise ValueError("domain is required (e.g. example.amocrm.ru)")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if self.auth.mode == "long_lived" and not self.auth.long_lived_token:
            raise ValueError("auth.long_lived_token is required with auth.mode: long_lived")
        if self.auth.mode == "oauth" and not (
            self.auth.client_id and self.auth.client_secret and self.auth.redirect_uri
        ):
            raise ValueError(
                "auth.client_id, auth.client_secret and auth.redirect_uri are required for oauth"
            )

    @property
    def url(self) -> str:
        """The account's base URL, without a trailing slash."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{self.domain.strip('/')}"

    def line(self, did: str | None) -> LineSettings:
        """The rules for calls on `did` (the `"*"` entry, or built-in defaults, when none matches)."""
        fallback: LineSettings | None = None
        wanted = _digits(did)
        for line in self.lines:
            if did is not None and (line.did == did or (wanted and _digits(line.did) == wanted)):
                return line
            if line.did == "*":
                fallback = line
        return fallback or LineSettings()


def _digits(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())

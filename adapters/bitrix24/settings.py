"""The `adapters.bitrix24` YAML section as frozen dataclasses, checked once at start-up."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from typing import Literal

from connector.settings_schema import Secret
from connector.sync.ratelimit import RateLimit

OpenCard = Literal["never", "on_ring", "on_answer"]


WEBHOOK_LIMITS = (
    "auth: webhook cannot log calls: telephony.externalCall.register/finish and "
    "telephony.externalLine.* work only in an application's context (the portal answers "
    "WRONG_AUTH_TYPE), so no call history, no call cards, no recordings and no external lines "
    "reach the portal; only lookups (routing, interception) and portal click-to-call work. "
    "Use auth: oauth with a local application (see docs/crm-requests.md)."
)


def _empty() -> Secret:
    return Secret("")


@dataclass(frozen=True, slots=True)
class Employee:
    """One extension's overrides: its portal user, when its card opens, or that it is left out."""

    extension: str
    user_id: str = ""  # overrides the user found by UF_PHONE_INNER
    open_card: OpenCard | None = None  # None: the adapter-wide `open_card`
    disabled: bool = False  # treated as unmapped: the PBX user stands in

    def __post_init__(self) -> None:
        if self.user_id and not self.user_id.isdigit():
            raise ValueError(f"user_id of extension {self.extension} must be a portal user id (digits)")


@dataclass(frozen=True, slots=True)
class ExternalLine:
    """A DID shown in the portal as an external line with a name."""

    number: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class EntitySettings:
    """Whether and which CRM entities the connector creates for a caller."""

    create_for: Literal["none", "all", "incoming", "outgoing"] = "none"
    by: Literal["connector", "portal"] = "connector"  # portal: CRM_CREATE=1, the portal's own rules
    create: Literal["contact", "deal", "lead"] = "deal"
    mode: Literal["simple", "repeat_sales"] = "simple"
    contact_name: str = "Без имени"
    deal_title: str = "{phone}"
    lead_title: str = "{phone}"
    source_id: str = "CALL"
    blacklist: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    """Options of the Bitrix24 adapter (see config/connector.example.yaml for each one)."""

    enabled: bool = False
    # oauth (a local or market application) is the default: register/finish and the external
    # lines work only in an application's context; a webhook gets WRONG_AUTH_TYPE for them.
    auth: Literal["webhook", "oauth"] = "oauth"
    webhook_url: Secret = field(default_factory=_empty)
    portal: str = ""
    client_id: str = ""
    client_secret: Secret = field(default_factory=_empty)
    refresh_token: Secret = field(default_factory=_empty)
    oauth_url: str = "https://oauth.bitrix.info/oauth/token/"
    application_token: Secret = field(default_factory=_empty)
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(2.0, 50, 4))
    timeout: float = 15.0
    upload_history: bool = True
    upload_recordings: bool = True
    inline_recording_max_bytes: int = 8_000_000
    recording_settle_seconds: float = 5.0
    open_card: OpenCard = "on_ring"
    missed_responsible: str = ""
    default_user_id: str = ""
    users_refresh_seconds: float = 300.0
    employees: tuple[Employee, ...] = ()
    lines: tuple[ExternalLine, ...] = ()
    callback_lines: tuple[str, ...] = ()
    timezone: str = "UTC"
    add_to_chat: bool = False  # ADD_TO_CHAT of both register and finish (the portal's default is 1)
    webhook_path: str = "/webhooks/bitrix24"
    install_path: str = "/webhooks/bitrix24/install"  # the app's handler for ONAPPINSTALL
    # offline: click-to-call and callback events wait on the portal, read by event.offline.get
    # (no inbound HTTP needed); online: the portal posts them to webhook_path
    portal_events: Literal["offline", "online"] = "offline"
    offline_poll_seconds: float = 5.0
    callback_extension: str = ""  # queue or extension ringing first for the CRM callback form
    # LINE_ID (from voximplant.line.get, logged at start) made the portal's default outgoing line,
    # so a click on a number in the CRM goes to this PBX; empty: left as the portal has it
    outgoing_line_id: str = ""
    line_crm_auto_create: bool = False  # CRM_AUTO_CREATE of the published lines (the portal's default is Y)
    entities: EntitySettings = field(default_factory=EntitySettings)

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.offline_poll_seconds < 1:
            raise ValueError("offline_poll_seconds must be at least 1 (each poll costs a request)")
        if self.default_user_id and not self.default_user_id.isdigit():
            raise ValueError("default_user_id must be a portal user id (digits)")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {self.timezone!r} is not a known time zone") from exc
        if self.enabled:
            self._check_credentials()

    def _check_credentials(self) -> None:
        if self.auth == "webhook":
            url = self.webhook_url.get()
            if not url.startswith(("http://", "https://")) or "/rest/" not in url:
                raise ValueError("webhook_url must look like https://<portal>/rest/<user_id>/<code>/")
            return
        # refresh_token is optional: the portal hands the first tokens to install_path (ONAPPINSTALL)
        missing = [
            name
            for name, value in (
                ("portal", self.portal),
                ("client_id", self.client_id),
                ("client_secret", self.client_secret.get()),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"auth: oauth needs {', '.join(missing)}")
        if not self.portal.startswith(("http://", "https://")):
            raise ValueError("portal must start with https:// (e.g. https://example.bitrix24.ru)")

    def warnings(self) -> list[str]:
        """What these settings cannot do, said at start-up and by `check-config`."""
        if not self.enabled or self.auth != "webhook":
            return []
        return [WEBHOOK_LIMITS]

    def employee(self, extension: str) -> Employee | None:
        """The YAML overrides of `extension`, if any."""
        return next((e for e in self.employees if e.extension == extension), None)

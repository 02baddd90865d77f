"""The generic webhook adapter: POST each finished call (and optionally live events and recording
links) as signed JSON to a URL, for any CRM or script that can receive a webhook.

Every request carries `Idempotency-Key` (the outbox job's key: a receiver must treat a repeat as
already done) and `X-Connector-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.crm import Adapter, AdapterContext
from connector.settings_schema import Secret
from connector.sync.ratelimit import RateLimit


@dataclass(frozen=True, slots=True)
class Settings:
    """The `adapters.webhook` section."""

    url: str
    secret: Secret
    enabled: bool = True
    timeout: float = 10.0
    live_events: bool = False
    recordings: bool = True
    internal_calls: bool = False
    rate_limit: RateLimit | None = None
    # A bearer token sent as `Authorization: Bearer ...`: the built-in CRM of another office
    # takes this connector's calls at /api/crm/ingest with the token it issued for it.
    token: Secret = field(default_factory=lambda: Secret(""))
    # Whose client is this caller (interception): GET <lookup_url>?phone=<E.164> with the token,
    # answered {"contact": null | {id, name, responsible_extension, ...}}. The built-in CRM of
    # another office answers at /api/crm/ingest/contact. Empty: no lookups.
    lookup_url: str = ""

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if len(self.secret.get()) < 16:
            raise ValueError("secret must be at least 16 characters (it signs every request)")
        if self.lookup_url and not self.lookup_url.startswith(("http://", "https://")):
            raise ValueError("lookup_url must start with http:// or https://")
        if self.timeout <= 0:
            raise ValueError("timeout must be more than 0 seconds")


def create(settings: Settings, context: AdapterContext) -> Adapter:
    """The webhook adapter."""
    from adapters.webhook.adapter import WebhookAdapter

    return WebhookAdapter(settings, context)

"""Bitrix24: calls through telephony.externalCall.*, entities, click-to-call (ONEXTERNALCALLSTART).

`Settings` is the `adapters.bitrix24` YAML section; `create` builds the adapter from it and the
injected context (shared aiohttp session, durable state for tokens and CALL_IDs). The daemon adds
`adapters.bitrix24.webhook.routes(adapter)` to its HTTP app for portal click-to-call.

Modules: `client` (REST, batch, pacing) with `auth` (webhook / OAuth), `errors` (answers → error
kinds) and `query` (batch command encoding); `mapping` (pure Call → fields rules); `users`
(extension ↔ user); `entities` (lookup and creation); `telephony` (externalCall methods and the
stored registration); `registrar`, `cards`, `history` (register, screen pop, finish); `adapter`
(the glue); `webhook` (ONEXTERNALCALLSTART).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from adapters.bitrix24.adapter import Bitrix24Adapter
from adapters.bitrix24.auth import Auth, OAuthAuth, WebhookAuth
from adapters.bitrix24.budget import SharedBudget
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.settings import Settings
from adapters.bitrix24.users import Directory
from connector.crm import Adapter, AdapterContext

__all__ = ["Bitrix24Adapter", "Settings", "create"]


def create(settings: Settings, context: AdapterContext) -> Adapter:
    """The Bitrix24 adapter for these settings, using the context's session and state."""
    auth: Auth
    fallback = settings.default_user_id
    if settings.auth == "webhook":
        webhook = WebhookAuth(settings.webhook_url.get(), context.state)
        fallback = fallback or webhook.user_id() or "1"
        auth = webhook
    else:
        auth = OAuthAuth(
            session=context.session,
            state=context.state,
            portal=settings.portal,
            oauth_url=settings.oauth_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get(),
            refresh_token=settings.refresh_token.get(),
            timeout=settings.timeout,
            adapter=context.name,
        )
        fallback = fallback or "1"
    portal = settings.portal if settings.auth == "oauth" else webhook_portal(settings.webhook_url.get())
    client = Bitrix24Client(
        context.session,
        auth,
        SharedBudget(context.state, portal, settings.rate_limit),
        timeout=settings.timeout,
        adapter=context.name,
    )
    directory = Directory(client, settings, fallback_user=fallback)
    return Bitrix24Adapter(settings, context, client, directory)


def webhook_portal(url: str) -> str:
    """The portal of an inbound webhook URL (its scheme and host: the budget is the portal's)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"

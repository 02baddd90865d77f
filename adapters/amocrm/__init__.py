"""amoCRM (API v4): calls and call notes on the client's card, unsorted leads for unknown callers,
contacts / leads / tasks by per-line rules, responsible lookup, and the call-panel widget endpoint.

Layout: `settings` (the YAML section), `auth` (OAuth2 rotation / long-lived token), `client`
(HTTP, pacing, errors via `errors`), `users` (extension ↔ user map), `contacts` (lookup by phone),
`mapping` (pure Call → amoCRM rules), `adapter` (the glue), `widget` (click-to-call routes).
"""

from __future__ import annotations

from adapters.amocrm.settings import Settings
from connector.crm import Adapter, AdapterContext

__all__ = ["Settings", "create"]


def create(settings: Settings, context: AdapterContext) -> Adapter:
    """The amoCRM adapter for `settings`."""
    from adapters.amocrm.adapter import AmoCrmAdapter

    return AmoCrmAdapter(settings, context)

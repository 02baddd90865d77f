"""Who may read the operations endpoints (/healthz, /metrics): this host, or a holder of the ops token.

Health and metrics tell an outsider what runs here and how busy it is, so they answer only a
caller on this machine (loopback, or the daemon's own address when it listens on a LAN address
and `crm-connector check` asks from the same host) unless `http.ops.allow_loopback` is false, and
anyone else who sends `Authorization: Bearer <http.ops.token>`. Behind a reverse proxy on the same
host every request looks local: set `allow_loopback: false` there and give Prometheus the token.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from connector.api.auth import bearer_of
from connector.api.settings import OpsSettings


def is_local(request: web.Request) -> bool:
    """Whether the caller is on this machine (loopback, or our own address as the peer)."""
    peer = request.remote or ""
    try:
        if ipaddress.ip_address(peer).is_loopback:
            return True
    except ValueError:
        return False
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return isinstance(sockname, tuple) and bool(sockname) and sockname[0] == peer


def allowed(request: web.Request, settings: OpsSettings) -> bool:
    """Whether `request` may read health and metrics."""
    if settings.allow_loopback and is_local(request):
        return True
    token = settings.token.get()
    given = bearer_of(request)
    return bool(token) and bool(given) and hmac.compare_digest(given.encode(), token.encode())


def check(request: web.Request, settings: OpsSettings) -> None:
    """403 problem unless the caller may read the operations endpoints."""
    from connector.api.app import Problem

    if not allowed(request, settings):
        raise Problem(
            403, "Forbidden", "health and metrics answer this host or the http.ops.token holder only"
        )

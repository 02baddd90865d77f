"""The `ari:` section: how to reach Asterisk's REST interface and what to use it for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from connector.settings_schema import Secret

MAX_PING_INTERVAL = 300.0


@dataclass(frozen=True, slots=True)
class AriSettings:
    """ARI (MikoPBX: "Asterisk REST Interface" users in the admin pages, ari.conf).

    `events` picks where call events come from, `control` what places and ends calls; both
    default to AMI, which stays connected either way (expiry checks and interception use it).
    """

    url: str = "http://127.0.0.1:8088/ari"
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    app: str = "crm-connector"
    events: Literal["ami", "ari"] = "ami"
    control: Literal["ami", "ari"] = "ami"
    connect_timeout: float = 5.0
    request_timeout: float = 5.0
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    auth_retry: float = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.path.rstrip("/"):
            raise ValueError(f"url {self.url!r} must be http(s)://host:port/ari")
        if not self.app or any(c in self.app for c in "/?&# "):
            raise ValueError("app must be a name without spaces, '/', '?', '&' or '#'")
        timings = (self.connect_timeout, self.request_timeout, self.ping_interval, self.ping_timeout)
        if min(timings) <= 0 or self.auth_retry <= 0:
            raise ValueError("timeouts, ping_interval and auth_retry must be more than 0")
        if self.reconnect_min <= 0 or self.reconnect_max < self.reconnect_min:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        if self.ping_interval > MAX_PING_INTERVAL or self.ping_timeout > self.ping_interval * 10:
            raise ValueError(
                f"need ping_interval <= {MAX_PING_INTERVAL:g} s and ping_timeout <= 10 x ping_interval"
            )
        if self.used and (not self.username or not self.password):
            raise ValueError("username and password are required when events or control is ari")

    @property
    def used(self) -> bool:
        """Whether the daemon connects to ARI at all."""
        return "ari" in (self.events, self.control)

    def events_url(self, suffix: str, *, everything: bool = True) -> str:
        """The /events WebSocket address: every channel and bridge (`everything`), or just
        the application's own (call control without ARI events: it only needs the name
        registered, for user events).

        Each connection registers its own application, `app-suffix`: Asterisk binds one socket
        per application name, and when an old socket of the same name is torn down (a
        half-open one noticed late) it unregisters the name, silently taking the events from
        the newer socket.
        """
        base = self.url.rstrip("/").replace("http", "ws", 1)
        tail = "&subscribeAll=true" if everything else ""
        return f"{base}/events?app={self.app_name(suffix)}{tail}"

    def app_name(self, suffix: str) -> str:
        """The application name one connection registers."""
        return f"{self.app}-{suffix}"

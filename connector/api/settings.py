"""Settings of the HTTP face's defences: sessions, sign-in throttling, connection limits, ops access.

They are nested under `http:` in the YAML (see config/connector.example.yaml) and kept here, beside
the code that uses them, so `connector.config` only names them. Every value is checked once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.settings_schema import Secret


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Browser sessions of the built-in CRM: how long one lives, idle and in all."""

    idle_minutes: int = 480  # a working day without a request signs the browser out
    absolute_hours: int = 24  # and every session ends after a day, used or not
    max_per_person: int = 20  # the oldest of a person's sessions goes past this many

    def __post_init__(self) -> None:
        if not 1 <= self.idle_minutes <= 7 * 24 * 60:
            raise ValueError("idle_minutes must be between 1 and 10080 (a week)")
        if not 1 <= self.absolute_hours <= 90 * 24:
            raise ValueError("absolute_hours must be between 1 and 2160 (90 days)")
        if self.idle_minutes > self.absolute_hours * 60:
            raise ValueError("idle_minutes must not be longer than absolute_hours")
        if not 1 <= self.max_per_person <= 1000:
            raise ValueError("max_per_person must be between 1 and 1000")


@dataclass(frozen=True, slots=True)
class PasswordSettings:
    """Password rules: length and a list of common passwords, not composition (NIST SP 800-63B)."""

    min_length: int = 15  # NIST SP 800-63B-4 for passwords used alone; 8 is its floor with a 2nd factor

    def __post_init__(self) -> None:
        if not 8 <= self.min_length <= 64:
            raise ValueError("min_length must be between 8 and 64")


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """Exponential back-off after failed sign-ins, per address and per account."""

    free_failures: int = 5  # failures allowed before the first wait
    base_seconds: float = 1.0  # the first wait; doubled with each further failure
    max_seconds: float = 900.0  # the longest wait (15 min)
    forget_after_seconds: float = 3600.0  # a key with no failure for this long starts afresh
    max_entries: int = 10_000  # per table: memory stays bounded whatever an attacker sends
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For names the client

    def __post_init__(self) -> None:
        if not 0 <= self.free_failures <= 100:
            raise ValueError("free_failures must be between 0 and 100")
        if not 0 < self.base_seconds <= self.max_seconds <= 86_400:
            raise ValueError("need 0 < base_seconds <= max_seconds <= 86400")
        if self.forget_after_seconds < self.max_seconds:
            raise ValueError("forget_after_seconds must be at least max_seconds")
        if not 100 <= self.max_entries <= 1_000_000:
            raise ValueError("max_entries must be between 100 and 1000000")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Limits that keep HTTP clients from holding the daemon's sockets (and starving AMI)."""

    head_timeout: float = 10.0  # a new connection must send its request head within this
    body_timeout: float = 30.0  # a request body (up to the size limit) must arrive within this
    upload_timeout: float = 300.0  # a multipart upload (imports) must arrive within this
    idle_timeout: float = 15.0  # a keep-alive connection with no request is closed after this
    max_connections: int = 1024  # in all; lowered to fit the open-files limit at start
    max_per_address: int = 64  # from one IP address (an IPv6 /64 counts as one)

    def __post_init__(self) -> None:
        timeouts = (self.head_timeout, self.body_timeout, self.upload_timeout, self.idle_timeout)
        if min(timeouts) <= 0 or max(timeouts) > 3600:
            raise ValueError("timeouts must be more than 0 and at most 3600 seconds")
        if not 1 <= self.max_per_address <= self.max_connections <= 100_000:
            raise ValueError("need 1 <= max_per_address <= max_connections <= 100000")


@dataclass(frozen=True, slots=True)
class OpsSettings:
    """Who may read /healthz and /metrics: loopback callers, or anyone with the ops token."""

    token: Secret = field(default_factory=lambda: Secret(""))
    allow_loopback: bool = True  # false behind a reverse proxy on the same host

    def __post_init__(self) -> None:
        if self.token and len(self.token.get()) < 20:
            raise ValueError("token must be a random string of at least 20 characters")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """The WebSocket of live call events (/api/live)."""

    allowed_origins: tuple[str, ...] = ()  # besides the daemon's own address and http.public_url
    max_per_session: int = 8  # open streams per session or token (browser tabs)

    def __post_init__(self) -> None:
        if not 1 <= self.max_per_session <= 1000:
            raise ValueError("max_per_session must be between 1 and 1000")
        for origin in self.allowed_origins:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ValueError(f"allowed origin {origin!r} must look like https://host[:port]")

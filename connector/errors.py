"""Every error the connector raises on purpose, grouped by what the caller must do.

    ConnectorError
    ├── ConfigError ............ the YAML is wrong: stop start-up, exit 2, name file/key/line
    ├── StorageError ........... an SQLite file is corrupt, locked or unwritable: stop, say which
    ├── CaptureError ........... a capture/replay input cannot be read at all
    ├── AmiError
    │   ├── AmiConnectionError . the socket dropped or went silent: reconnect with backoff
    │   ├── AmiAuthError ....... Asterisk refused the login: stop retrying fast, fix the config
    │   └── AmiActionError ..... an action failed or timed out: report to whoever asked
    ├── AdapterError ........... raised only by adapters, mapped from vendor errors at their boundary
    │   ├── TransientError ..... try again later (timeouts, 5xx, rate limits); may carry retry_after
    │   │   └── RateLimitedError
    │   ├── AuthError .......... credentials expired or revoked: park the adapter, alert, refresh
    │   └── PermanentError ..... the CRM refused this job for good: dead-letter it with the message
    └── CallControlError ....... click-to-call / hang-up / transfer refused
        ├── NotPermittedError .. the token may not use that extension or number (toll fraud guard)
        │   ├── UnsafeValueError  a value would break or extend an AMI action (CR/LF, ',' in Variable)
        │   └── TooManyCallsError  the caller's click-to-call rate limit is used up: retry_after
        ├── CallNotFoundError .. no such call in progress
        └── PbxUnavailableError  AMI/ARI (or another office's connector) not reachable: nothing was done

Adapters must `raise ... from` the vendor exception so the original stays in the traceback.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every deliberate connector error."""


class ConfigError(ConnectorError):
    """The configuration is invalid; the message names the file, key path and line."""

    def __init__(self, message: str, *, path: str = "", key: str = "", line: int | None = None) -> None:
        where = path
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        prefix = ": ".join(part for part in (where, key) if part)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.path = path
        self.key = key
        self.line = line
        self.reason = message


class StorageError(ConnectorError):
    """A database file cannot be used (corrupt, locked, unwritable)."""


class CaptureError(ConnectorError):
    """A capture file cannot be read at all (not a damaged event: those are skipped)."""


class AmiError(ConnectorError):
    """Base of AMI (Asterisk Manager Interface) errors."""


class AmiConnectionError(AmiError):
    """The AMI connection was lost, refused or went silent."""


class AmiAuthError(AmiError):
    """Asterisk rejected the manager login."""


class AmiActionError(AmiError):
    """An AMI action failed or got no answer in time."""


class AdapterError(ConnectorError):
    """Base of the errors an adapter raises; `adapter` names it for logs and the outbox."""

    def __init__(self, message: str, *, adapter: str = "") -> None:
        super().__init__(message)
        self.adapter = adapter


class TransientError(AdapterError):
    """Try again later; `retry_after` (seconds) when the CRM said how long to wait."""

    def __init__(self, message: str, *, adapter: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, adapter=adapter)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """The CRM's rate limit was hit."""


class AuthError(AdapterError):
    """The CRM rejected our credentials: the adapter is parked until they are fixed or refreshed."""


class PermanentError(AdapterError):
    """The CRM refused this job for good; the message is the CRM's own."""


class CallControlError(ConnectorError):
    """A call-control request (click-to-call, hang-up, transfer) was refused or failed."""


class NotPermittedError(CallControlError):
    """The caller's token may not use that extension or number."""


class UnsafeValueError(NotPermittedError, ValueError):
    """A value cannot go into an AMI action: it would add headers or channel variables."""


class CallNotFoundError(CallControlError):
    """No call in progress matches the request."""


class TooManyCallsError(NotPermittedError):
    """The caller's click-to-call rate limit is used up; `retry_after` seconds until a slot frees."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PbxUnavailableError(CallControlError):
    """The PBX (AMI, ARI, or another office's connector) is not reachable or did not answer in
    time: nothing was done."""

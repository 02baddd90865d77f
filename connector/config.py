"""The connector's configuration: one YAML file → frozen, typed settings, validated once.

Values may reference the environment (`${AMI_SECRET}`, `${AMI_SECRET:-default}`) or a file
(`${file:/etc/crm-connector/ami.secret}`), so secrets need not live in the YAML. Any problem
stops start-up with a `ConfigError` naming the file, the key path, the line and a hint.
Each adapter declares its own settings class (see `connector.registry`); this module checks
the `adapters:` section against it.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from connector.api.settings import (
    ConnectionLimits,
    LiveSettings,
    OpsSettings,
    PasswordSettings,
    SessionSettings,
    ThrottleSettings,
)
from connector.ari.settings import AriSettings
from connector.control import CallControlSettings
from connector.errors import ConfigError
from connector.offices import OfficeSettings, check_offices
from connector.routing import InterceptionSettings
from connector.settings_schema import Located, Secret, build

_SCALARS = yaml.constructor.SafeConstructor()
MAX_CONFIG_BYTES = 1 << 20  # a config file is a few kilobytes; more is not a config
MAX_VALUES = 100_000  # YAML values after aliases are expanded: an alias bomb stops here
MAX_DEPTH = 40  # nesting (a recursive alias would otherwise never end)
MAX_PING_INTERVAL = 300.0
MAX_PING_TIMEOUT = 60.0
PING_TIMEOUT_RATIO = 10
MIN_TOKEN_LENGTH = 20
_PLACEHOLDERS = ("change-me", "changeme", "demo-token", "example")
_REF = re.compile(r"\$\{(file:[^}]+|[A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class CdrRecoverySettings:
    """Recover calls missed while AMI was down from MikoPBX's cdr.db (read-only)."""

    enabled: bool = True
    db_path: Path = Path("/storage/usbdisk1/mikopbx/astlogs/asterisk/cdr.db")
    poll_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0:
            raise ValueError("poll_seconds must be more than 0")


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """How to reach Asterisk's manager interface."""

    username: str
    secret: Secret
    host: str = "127.0.0.1"
    port: int = 5038
    events: tuple[str, ...] = ("call", "agent", "user", "dialplan")
    filters: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    action_timeout: float = 5.0
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    auth_retry: float = 60.0
    cdr_recovery: CdrRecoverySettings = field(default_factory=CdrRecoverySettings)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port")
        if self.reconnect_min <= 0 or self.reconnect_max < self.reconnect_min:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        timings = (self.connect_timeout, self.action_timeout, self.ping_interval, self.ping_timeout)
        if min(timings) <= 0 or self.auth_retry <= 0:
            raise ValueError("timeouts, ping_interval and auth_retry must be more than 0")
        if not self.secret:
            raise ValueError("secret must not be empty (the manager user's secret in manager.conf)")
        # A frozen Asterisk or a half-open socket is noticed within ping_interval + ping_timeout:
        # beyond these bounds calls would be missed for minutes without anyone knowing.
        if self.ping_interval > MAX_PING_INTERVAL:
            raise ValueError(f"ping_interval must be at most {MAX_PING_INTERVAL:g} s")
        if self.ping_timeout > min(MAX_PING_TIMEOUT, self.ping_interval * PING_TIMEOUT_RATIO):
            raise ValueError(
                f"ping_timeout must be at most {MAX_PING_TIMEOUT:g} s"
                f" and {PING_TIMEOUT_RATIO} times ping_interval"
            )


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token for the HTTP API and which extensions it may act for."""

    name: str
    token: Secret
    extensions: tuple[str, ...] = ("*",)
    role: Literal["admin", "service"] = "service"

    def __post_init__(self) -> None:
        token = self.token.get()
        if len(token) < MIN_TOKEN_LENGTH or any(word in token.lower() for word in _PLACEHOLDERS):
            raise ValueError(
                f"token of {self.name!r} must be a random string of at least {MIN_TOKEN_LENGTH} characters"
            )


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The daemon's HTTP face: API, webhooks, recording links, live events, built-in CRM pages."""

    host: str = "127.0.0.1"
    port: int = 8088
    public_url: str = ""
    tokens: tuple[ApiToken, ...] = ()
    link_secret: Secret = field(default_factory=lambda: Secret(""))
    recording_link_ttl: int = 3600
    crm_link_ttl: int = 365 * 24 * 3600
    sessions: SessionSettings = field(default_factory=SessionSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    sign_in_throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    ops: OpsSettings = field(default_factory=OpsSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    openapi_public: bool = False  # the CRM's OpenAPI description without signing in

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port (1..65535)")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where the connector keeps its state (outbox, call journal, built-in CRM)."""

    dir: Path = Path("/var/lib/crm-connector")
    recordings_dir: Path = Path("/storage/usbdisk1/mikopbx/astspool/monitor")

    def __post_init__(self) -> None:
        # systemd starts the daemon in /, a shell in any folder: a relative path means two outboxes.
        for name in ("dir", "recordings_dir"):
            if not getattr(self, name).is_absolute():
                raise ValueError(f"{name} must be an absolute path, got {str(getattr(self, name))!r}")


@dataclass(frozen=True, slots=True)
class Line:
    """An external line (DID) with a human name, e.g. 'Сайт'."""

    number: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue as people know it: MikoPBX names its app_queue queues by an id (QUEUE-<uniqid>)
    and reaches them by a separate number; calls report the number and this name."""

    id: str
    number: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class NumberingSettings:
    """How numbers are read: country for E.164, which names are extensions, which are DIDs."""

    country_code: str = "7"
    national_prefix: str = "8"
    internal_pattern: str = r"^[0-9]{2,5}$"
    lines: tuple[Line, ...] = ()
    queues: tuple[Queue, ...] = ()  # app_queue id -> number and name (MikoPBX's QUEUE-<uniqid>)
    region: str = ""  # default region for E.164 (RU, KZ, BY, UZ, UA, GE...); empty: country_code's

    def __post_init__(self) -> None:
        if not self.country_code.isdigit():
            raise ValueError("country_code must be digits, e.g. '7'")
        if self.region:
            from connector.calls.phones import region_for  # the numbering rules live with the tracker

            region_for(self.region)  # ValueError names an unknown region
        try:
            re.compile(self.internal_pattern)
        except re.error as exc:
            raise ValueError(f"internal_pattern is not a valid regular expression: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CallsSettings:
    """Call tracking rules."""

    max_call_seconds: int = 4 * 3600
    push_internal: bool = False


@dataclass(frozen=True, slots=True)
class PbxSettings:
    """Which office this connector serves: its calls and live events carry the id (many PBXs, one CRM)."""

    id: str = ""  # default: the system's host name (see `pbx_id`)

    def __post_init__(self) -> None:
        if self.id and not PBX_ID.fullmatch(self.id):
            raise ValueError("id must be 1-32 letters, digits, '.', '_' or '-'")


PBX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


def pbx_id(settings: Settings) -> str:
    """This connector's office id: `pbx.id`, else the host name (first label, trimmed to fit)."""
    if settings.pbx.id:
        return settings.pbx.id
    name = re.sub(r"[^A-Za-z0-9._-]", "", socket.gethostname().split(".")[0])[:32]
    return name if PBX_ID.fullmatch(name) else "pbx"


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """Durable delivery to the CRMs."""

    max_attempts: int = 12
    backoff_min: float = 2.0
    backoff_max: float = 900.0
    lease_seconds: float = 60.0
    delivered_retention_days: int = 7
    journal_retention_days: int = 90
    shutdown_grace: float = 10.0
    db_path: Path | None = None  # default: <storage.dir>/outbox.db
    job_timeout: float = 30.0
    concurrency: int = 4
    poll_seconds: float = 2.0
    park_seconds: float = 300.0
    unavailable_after: int = 3
    dead_retention_days: int = 30
    synchronous: Literal["normal", "full"] = "full"
    busy_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_min <= 0 or self.backoff_max < self.backoff_min:
            raise ValueError("need 0 < backoff_min <= backoff_max")
        if not 0 < self.job_timeout < self.lease_seconds:
            raise ValueError("need 0 < job_timeout < lease_seconds, or a slow delivery would run twice")
        if self.concurrency < 1 or self.unavailable_after < 1:
            raise ValueError("concurrency and unavailable_after must be at least 1")
        if self.poll_seconds <= 0 or self.park_seconds <= 0:
            raise ValueError("poll_seconds and park_seconds must be more than 0")

    def path(self, storage_dir: Path) -> Path:
        """The outbox file: `db_path`, or outbox.db in the state directory."""
        return self.db_path or storage_dir / "outbox.db"


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """Log level and format (auto: console on a terminal, JSON otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration."""

    ami: AmiSettings
    http: HttpSettings = field(default_factory=HttpSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    numbering: NumberingSettings = field(default_factory=NumberingSettings)
    calls: CallsSettings = field(default_factory=CallsSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    interception: InterceptionSettings = field(default_factory=InterceptionSettings)
    call_control: CallControlSettings = field(default_factory=CallControlSettings)
    ari: AriSettings = field(default_factory=AriSettings)
    pbx: PbxSettings = field(default_factory=PbxSettings)
    offices: tuple[OfficeSettings, ...] = ()
    adapters: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.offices:
            check_offices(self.offices, pbx_id(self))

    def secrets(self) -> list[str]:
        """Every secret value, so log output can be scrubbed of them."""
        found: list[str] = []
        _collect_secrets(self, found)
        return [s for s in found if len(s) >= 4]


def load(path: str | Path, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the YAML file at `path`."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", path=str(path)) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the file is larger than {MAX_CONFIG_BYTES} bytes", path=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            path=str(path),
            line=line,
        ) from exc
    return loads(text, str(path), os.environ.copy() if environ is None else environ)


def loads(text: str, path: str = "<config>", environ: dict[str, str] | None = None) -> Settings:
    """Validate YAML `text`; `path` is used in error messages."""
    environ = {} if environ is None else environ
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path, line=line) from exc
    if node is None:
        raise ConfigError("the file is empty", path=path)
    lines: dict[str, int] = {}
    data = _Plain(lines, path, environ).convert(node, "")
    where = Located(path, lines)
    if not isinstance(data, dict):
        raise where.error("", "the top level must be a mapping of sections")
    adapters_data = data.pop("adapters", {}) or {}
    settings = build(Settings, data, where)
    adapters = _build_adapters(adapters_data, where)
    settings = _replace(settings, adapters=adapters, source=path)
    _check_recording_links(settings, where)
    return settings


def _check_recording_links(settings: Settings, where: Located) -> None:
    """CRMs that store recording links need a stable key and an address they can reach."""
    linking = [name for name in ("amocrm",) if getattr(settings.adapters.get(name), "enabled", False)]
    if not linking:
        return
    if not settings.http.public_url:
        raise where.error("http.public_url", f"is required by {linking[0]}: it links recordings to it")
    if not settings.http.link_secret:
        raise where.error("http.link_secret", f"is required by {linking[0]}: links must survive restarts")


def _build_adapters(data: Any, where: Located) -> dict[str, Any]:
    from connector.registry import settings_class

    if not isinstance(data, dict):
        raise where.error("adapters", "must be a mapping of adapter name to its settings")
    built: dict[str, Any] = {}
    for name, options in data.items():
        cls = settings_class(str(name), where)
        built[str(name)] = build(cls, options, where, f"adapters.{name}")
    return built


def _replace(settings: Settings, **changes: Any) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, **changes)


class _Plain:
    """Compose-tree → plain data, remembering each key's line and resolving ${...} references.

    Aliases are expanded here, so the values produced are counted and the nesting bounded: a
    few lines of nested aliases ("billion laughs") would otherwise expand into gigabytes.
    """

    def __init__(self, lines: dict[str, int], path: str, environ: dict[str, str]) -> None:
        self.lines = lines
        self.path = path
        self.environ = environ
        self.values = 0

    def convert(self, node: yaml.Node, key: str, depth: int = 0) -> Any:
        """Plain data for `node` (found at `key`)."""
        self._count(node, key, depth)
        self.lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, key, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(v, f"{key}[{i}]", depth + 1) for i, v in enumerate(node.value)]
        value = _SCALARS.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value = _resolve(value, key, node.start_mark.line + 1, self.path, self.environ)
        return value

    def _mapping(self, node: yaml.MappingNode, key: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k_node, v_node in node.value:
            if not isinstance(k_node, yaml.ScalarNode):
                raise ConfigError(
                    "a key must be a plain word", path=self.path, line=k_node.start_mark.line + 1
                )
            name = str(k_node.value)
            child = f"{key}.{name}" if key else name
            if name in out:
                raise ConfigError(
                    "is given twice", path=self.path, key=child, line=k_node.start_mark.line + 1
                )
            self.lines[child] = k_node.start_mark.line + 1
            out[name] = self.convert(v_node, child, depth + 1)
        return out

    def _count(self, node: yaml.Node, key: str, depth: int) -> None:
        self.values += 1
        if self.values > MAX_VALUES or depth > MAX_DEPTH:
            raise ConfigError(
                f"expands to more than {MAX_VALUES} values or {MAX_DEPTH} levels (aliases used"
                " recursively or nested too deep?)",
                path=self.path,
                key=key,
                line=node.start_mark.line + 1,
            )


def _resolve(value: str, key: str, line: int, path: str, environ: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1).strip(), match.group(2)
        if name.startswith("file:"):
            return _read_secret_file(name[5:].strip(), key, line, path)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set", path=path, key=key, line=line)

    return _REF.sub(replace, value)


def _read_secret_file(file: str, key: str, line: int, path: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file {file}: {exc.strerror}", path=path, key=key, line=line
        ) from exc


def _collect_secrets(value: Any, found: list[str]) -> None:
    import dataclasses

    if isinstance(value, Secret):
        found.append(value.get())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _collect_secrets(getattr(value, f.name), found)
    elif isinstance(value, tuple | list):
        for v in value:
            _collect_secrets(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_secrets(v, found)

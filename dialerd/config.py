"""dialerd's configuration: one TOML file read into typed, frozen objects.

Rules: every key is known (an unknown key is an error naming it), units are in key names
(``busy_timeout_ms``, ``drain_timeout_s``), and secrets are :class:`Secret` objects that
never print their value. A secret is given inline (for tests and demos only), as a file
path, or as the name of a systemd credential read from ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from dialerd.errors import ConfigError

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class Secret:
    """A secret string whose value is only reachable through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class SecretSource(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where a secret comes from: exactly one of ``value``, ``file``, ``credential``."""

    value: str | None = None
    file: str | None = None
    credential: str | None = None

    def __repr__(self) -> str:
        return f"SecretSource(file={self.file!r}, credential={self.credential!r})"

    def load(self, key: str) -> Secret:
        """Read the secret; ``key`` names it in errors."""
        given = [x for x in (self.value, self.file, self.credential) if x is not None]
        if len(given) != 1:
            raise ConfigError(f"{key}: give exactly one of value, file or credential")
        if self.value is not None:
            return Secret(self.value)
        if self.file is not None:
            path = Path(self.file)
        else:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(f"{key}.credential: $CREDENTIALS_DIRECTORY is not set")
            path = Path(directory) / str(self.credential)
        try:
            return Secret(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read the secret file ({exc.strerror})") from None


class StoreConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The SQLite store."""

    path: str = "dialerd.sqlite3"
    busy_timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 5000


class LimitsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Administrative limits."""

    max_campaigns: PositiveInt = 100
    dnc_upload_max_rows: PositiveInt = 20_000_000
    import_max_rows: PositiveInt = 5_000_000
    agents_per_owned_campaign: PositiveInt = 200


class AmiServerConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One Asterisk server reached over AMI."""

    name: Name
    secret: SecretSource
    host: str = "127.0.0.1"
    port: Port = 5038
    username: str = "dialerd"
    max_concurrent_calls: PositiveInt = 100
    connect_timeout_s: PositiveFloat = 5.0
    action_timeout_s: PositiveFloat = 5.0
    ping_interval_s: PositiveFloat = 5.0
    pong_timeout_s: PositiveFloat = 3.0
    reconnect_min_s: PositiveFloat = 0.5
    reconnect_max_s: PositiveFloat = 30.0


class AmiConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """All AMI servers."""

    servers: tuple[AmiServerConfig, ...] = ()


class MqttConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The MQTT broker dialerd is controlled and observed through."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 1883
    username: str | None = None
    password: SecretSource | None = None
    topic_prefix: str = "dialerd"


class MetricsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The Prometheus endpoint."""

    enabled: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: Port = 9464


class EngineConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The call engine."""

    drain_timeout_s: PositiveFloat = 30.0
    startup_timeout_s: PositiveFloat = 30.0
    max_lines_per_agent: Annotated[float, msgspec.Meta(ge=1.0, le=20.0)] = 3.0
    auto_agents: bool = False
    route: str = "PJSIP/{number}@trunk"


class LogConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class Config(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole configuration file."""

    node_name: Name = "dialerd"
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    ami: AmiConfig = msgspec.field(default_factory=AmiConfig)
    mqtt: MqttConfig = msgspec.field(default_factory=MqttConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)


def parse_config(text: str, *, source: str = "<config>") -> Config:
    """Parse and validate TOML text; errors name the file and the key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        config = msgspec.convert(raw, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_readable(str(exc))}") from None
    names = [s.name for s in config.ami.servers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{source}: ami.servers: duplicate name {duplicates[0]!r}")
    for i, server in enumerate(config.ami.servers):
        server.secret.load(f"{source}: ami.servers[{i}].secret")
    if config.mqtt.password is not None:
        config.mqtt.password.load(f"{source}: mqtt.password")
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_config(text, source=str(p))


def _readable(message: str) -> str:
    # msgspec says "... - at `$.ami.servers[0].port`"; lead with the key, as users look for it.
    text, sep, where = message.rpartition(" - at ")
    if not sep:
        text, where = message, ""
    key = where.strip("`").removeprefix("$").removeprefix(".")
    unknown = text.removeprefix("Object contains unknown field ")
    if unknown != text:
        return f"{key + '.' if key else ''}{unknown.strip('`')}: unknown key"
    return f"{key or '(top level)'}: {text}"

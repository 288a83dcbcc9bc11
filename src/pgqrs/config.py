"""Configuration: defaults < YAML file < environment < explicit arguments, validated once.

Precedence is per setting: a DSN given on the command line combines with a schema taken from
``PGQRS_SCHEMA``. Every bad value raises `ConfigError` naming the field and where it came from;
the DSN's password never appears in an error or in ``repr(config)``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pgqrs import _secrets, _validation, errors

DEFAULT_FILES = ("pgqrs.yaml", "pgqrs.yml")
POOLER_PORTS = frozenset({6432})  # PgBouncer's and pgcat's customary port
POOLER_MODES = ("none", "session", "transaction")
ARCHIVE_PARTITIONING = ("none", "daily")
DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings shared by the admin, producers and consumers.

    Attributes:
        dsn: libpq connection string or URI (or ``embedded`` / ``embedded:PATH``).
        schema: PostgreSQL schema holding the pgqrs tables; it must exist before install.
        max_connections: Size of the connection pool.
        connection_timeout_seconds: Longest wait for a connection before `DatabaseError`.
        default_lock_time_seconds: Lease given by a dequeue when none is passed.
        default_max_batch_size: Messages taken by `dequeue_batch()` when no size is passed.
        max_payload_bytes: Largest JSON payload accepted, in UTF-8 bytes.
        producer_rate_limit: Messages per second a producer may send (it waits); None = no limit.
        max_read_count: Deliveries after which a message is dead-lettered to the archive; 0 = never.
        heartbeat_interval: Seconds between a consumer's records that it is alive (any call it
            makes does it when this much time has passed; the worker runtime does it on a timer).
        poll_interval: Seconds an idle worker of the runtime waits before looking at its queue
            again when no wake-up arrives (the bound on a delayed or retried message's wait).
        listen_dsn: Where the runtime LISTENs for wake-ups, when `dsn` goes through a
            transaction pooler (which cannot deliver them); None: `dsn` itself, unless it is
            behind a transaction pooler, in which case the runtime only polls.
        pooler: ``none``, ``session`` or ``transaction``; None guesses from the port (6432).
        prepared_statements: Use server-side prepared statements; None = on unless a transaction
            pooler is in front.
        archive_retention: Seconds an archive record is kept (a number, or text such as ``7d``
            or ``12h`` in files and the environment); the worker runtime purges older ones,
            dead letters excepted. None = keep everything.
        archive_partitioning: ``none`` or ``daily``: how `install` creates the archive (daily:
            on PostgreSQL range partitions by archived_at; see docs/retention.md).
    """

    dsn: str
    schema: str = "public"
    max_connections: int = 16
    connection_timeout_seconds: float = 30
    default_lock_time_seconds: float = 5
    default_max_batch_size: int = 100
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    producer_rate_limit: float | None = None
    max_read_count: int = 5
    heartbeat_interval: float = 30
    poll_interval: float = 1.0
    listen_dsn: str | None = None
    pooler: str | None = None
    prepared_statements: bool | None = None
    archive_retention: float | None = None
    archive_partitioning: str = "none"

    def __post_init__(self) -> None:
        retention = self.archive_retention
        if retention is not None and not isinstance(retention, float):
            # A frozen dataclass: "7d", a timedelta or an int is kept as the seconds it means.
            object.__setattr__(self, "archive_retention", _retention_seconds(retention, "arguments"))
        _check(dataclasses.asdict(self), "arguments")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{field.name}={_shown(field.name, getattr(self, field.name))}"
            for field in dataclasses.fields(self)
        )
        return f"Config({shown})"

    @property
    def masked_dsn(self) -> str:
        """Return the DSN with its password replaced by ``***``."""
        return _secrets.mask_dsn(self.dsn)

    @property
    def behind_transaction_pooler(self) -> bool:
        """Return True when a transaction-mode pooler is (or is guessed to be) in front."""
        if self.pooler is not None:
            return self.pooler == "transaction"
        return _dsn_port(self.dsn) in POOLER_PORTS

    @property
    def use_prepared_statements(self) -> bool:
        """Return whether server-side prepared statements are safe to use."""
        if self.prepared_statements is not None:
            return self.prepared_statements
        return not self.behind_transaction_pooler

    def replace(self, **changes: Any) -> Config:
        """Return a copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dsn(cls, dsn: str) -> Config:
        """Return a config for `dsn` with every other setting at its default."""
        return _build([("arguments", {"dsn": dsn})])

    @classmethod
    def from_dsn_with_schema(cls, dsn: str, schema: str) -> Config:
        """Return a config for `dsn` using `schema`."""
        return _build([("arguments", {"dsn": dsn, "schema": schema})])

    @classmethod
    def embedded(cls, path: str | os.PathLike[str] | None = None) -> Config:
        """Return a config for the embedded PostgreSQL server (data under `path` or the default)."""
        return cls.from_dsn("embedded" if path is None else f"embedded:{os.fspath(path)}")

    @classmethod
    def from_env(cls) -> Config:
        """Return a config read from the ``PGQRS_*`` environment variables."""
        return _build([("environment", _from_environment(os.environ))])

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Config:
        """Return a config read from a YAML file whose keys are the field names."""
        return _build([_from_file(Path(path))])

    @classmethod
    def load(cls) -> Config:
        """Return a config from the environment > ``PGQRS_CONFIG_FILE`` > ./pgqrs.yaml > defaults."""
        return cls.load_with_options()

    @classmethod
    def load_with_options(
        cls,
        dsn: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        schema: str | None = None,
        **overrides: Any,
    ) -> Config:
        """Return a config where explicit arguments > `config_file` > environment > default files.

        Args:
            dsn: Explicit DSN (highest priority).
            config_file: Explicit YAML file; it outranks the environment.
            schema: Explicit schema (highest priority).
            **overrides: Any other field, explicitly set.

        Raises:
            ConfigError: A value is missing or invalid; the message names the field and source.
        """
        layers: list[tuple[str, Mapping[str, Any]]] = []
        default_file = _default_file(os.environ)
        if default_file is not None:
            layers.append(_from_file(default_file))
        layers.append(("environment", _from_environment(os.environ)))
        if config_file is not None:
            layers.append(_from_file(Path(config_file)))
        explicit = {"dsn": dsn, "schema": schema, **overrides}
        layers.append(("arguments", {key: value for key, value in explicit.items() if value is not None}))
        return _build(layers)


def _parse_int(text: str) -> int:
    return int(text.strip())


def _parse_float(text: str) -> float:
    return float(text.strip())


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _parse_optional_float(text: str) -> float | None:
    return None if text.strip().lower() in ("", "none", "off") else float(text)


_ENVIRONMENT: dict[str, tuple[str, Callable[[str], Any]]] = {
    "dsn": ("PGQRS_DSN", str),
    "schema": ("PGQRS_SCHEMA", str),
    "max_connections": ("PGQRS_MAX_CONNECTIONS", _parse_int),
    "connection_timeout_seconds": ("PGQRS_CONNECTION_TIMEOUT", _parse_float),
    "default_lock_time_seconds": ("PGQRS_DEFAULT_LOCK_TIME", _parse_float),
    "default_max_batch_size": ("PGQRS_DEFAULT_BATCH_SIZE", _parse_int),
    "max_payload_bytes": ("PGQRS_MAX_PAYLOAD_BYTES", _parse_int),
    "producer_rate_limit": ("PGQRS_PRODUCER_RATE_LIMIT", _parse_optional_float),
    "max_read_count": ("PGQRS_MAX_READ_COUNT", _parse_int),
    "heartbeat_interval": ("PGQRS_HEARTBEAT_INTERVAL", _parse_float),
    "poll_interval": ("PGQRS_POLL_INTERVAL", _parse_float),
    "listen_dsn": ("PGQRS_LISTEN_DSN", str),
    "pooler": ("PGQRS_POOLER", str),
    "prepared_statements": ("PGQRS_PREPARED_STATEMENTS", _parse_bool),
    "archive_retention": ("PGQRS_ARCHIVE_RETENTION", str),
    "archive_partitioning": ("PGQRS_ARCHIVE_PARTITIONING", str),
}
_FIELDS = {field.name for field in dataclasses.fields(Config)}


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field, (variable, parse) in _ENVIRONMENT.items():
        if variable not in environ:
            continue
        try:
            values[field] = parse(environ[variable])
        except ValueError:
            shown = _shown(field, environ[variable])
            raise errors.ConfigError(
                f"{field}: environment variable {variable} has an invalid value {shown}"
            ) from None
    return values


def _default_file(environ: Mapping[str, str]) -> Path | None:
    named = environ.get("PGQRS_CONFIG_FILE")
    if named:
        return Path(named)
    return next((Path(name) for name in DEFAULT_FILES if Path(name).is_file()), None)


def _from_file(path: Path) -> tuple[str, dict[str, Any]]:
    source = f"config file {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ConfigError(f"{source} cannot be read: {exc.__class__.__name__}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        # The YAML error quotes the offending text, which may hold the DSN: say where, not what.
        raise errors.ConfigError(f"{source} is not valid YAML{line}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise errors.ConfigError(f"{source} must hold a mapping of settings, not {type(loaded).__name__}")
    unknown = sorted(str(key) for key in loaded if key not in _FIELDS)
    if unknown:
        raise errors.ConfigError(f"{source} has unknown setting(s): {', '.join(unknown)}")
    return source, loaded


def _build(layers: list[tuple[str, Mapping[str, Any]]]) -> Config:
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, values in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = source
    _check(merged, sources)
    return Config(**merged)


def _shown(field: str, value: object) -> str:
    if field in DSN_FIELDS and isinstance(value, str):
        return repr(_secrets.mask_dsn(value))
    return repr(value)


DSN_FIELDS = ("dsn", "listen_dsn")


def _check(values: Mapping[str, Any], sources: Mapping[str, str] | str) -> None:
    """Validate every setting; raise `ConfigError` naming the first bad one and its source."""

    def fail(field: str, problem: str) -> errors.ConfigError:
        source = sources if isinstance(sources, str) else sources.get(field, "defaults")
        return errors.ConfigError(f"{field} (from {source}): {problem}")

    dsn = values.get("dsn")
    if dsn is None:
        raise errors.MissingDsn(
            "dsn (from defaults): a DSN is required (set --dsn, PGQRS_DSN or dsn: in pgqrs.yaml)"
        )
    if not isinstance(dsn, str) or not dsn.strip():
        raise fail("dsn", "a DSN is required (set --dsn, PGQRS_DSN or dsn: in pgqrs.yaml)")
    problem = _dsn_problem(dsn)
    if problem:
        raise fail("dsn", problem)
    listen_dsn = values.get("listen_dsn")
    if listen_dsn is not None:
        problem = "must be a string" if not isinstance(listen_dsn, str) else _dsn_problem(listen_dsn)
        if problem:
            raise fail("listen_dsn", problem)
    try:
        _validation.schema_name(values.get("schema", "public"), "schema")
    except errors.ValidationError as exc:
        raise fail("schema", str(exc).removeprefix("schema: ")) from None
    for field, minimum in _NUMBERS.items():
        if field in values:
            _check_number(field, values[field], minimum, fail)
    _check_choice("pooler", values.get("pooler"), POOLER_MODES, fail)
    _check_choice("archive_partitioning", values.get("archive_partitioning"), ARCHIVE_PARTITIONING, fail)
    retention = values.get("archive_retention")
    if retention is not None:
        try:
            _validation.duration(retention, "archive_retention")
        except errors.ValidationError as exc:
            raise fail("archive_retention", str(exc).removeprefix("archive_retention ")) from None
    prepared = values.get("prepared_statements")
    if prepared is not None and not isinstance(prepared, bool):
        raise fail("prepared_statements", f"must be true or false, got {prepared!r}")


_NUMBERS: dict[str, float] = {
    "max_connections": 1,
    "connection_timeout_seconds": 0.001,
    "default_lock_time_seconds": 0,
    "default_max_batch_size": 1,
    "max_payload_bytes": 1,
    "producer_rate_limit": 0.001,
    "max_read_count": 0,
    "heartbeat_interval": 0.001,
    "poll_interval": 0.001,
}
_INTEGERS = {"max_connections", "default_max_batch_size", "max_payload_bytes", "max_read_count"}


def _check_number(
    field: str, value: object, minimum: float, fail: Callable[[str, str], errors.ConfigError]
) -> None:
    if value is None and field == "producer_rate_limit":
        return
    wanted = int if field in _INTEGERS else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        kind = "an integer" if field in _INTEGERS else "a number"
        raise fail(field, f"must be {kind}, got {value!r}")
    if value != value or value < minimum:  # value != value: NaN
        raise fail(field, f"must be at least {minimum:g}, got {value!r}")


def _check_choice(
    field: str, value: object, choices: tuple[str, ...], fail: Callable[[str, str], errors.ConfigError]
) -> None:
    if value is not None and value not in choices:
        raise fail(field, f"must be one of {', '.join(choices)}, got {value!r}")


def _retention_seconds(value: object, source: str) -> float:
    try:
        return _validation.duration(value, "archive_retention")
    except errors.ValidationError as exc:
        raise errors.ConfigError(f"archive_retention (from {source}): {exc}") from None


def _dsn_problem(dsn: str) -> str | None:
    """Return why a DSN cannot be used, without quoting its password, or None."""
    if dsn == "embedded" or dsn.startswith("embedded:"):
        return None
    scheme, separator, rest = dsn.partition("://")
    if separator:
        if scheme not in ("postgresql", "postgres"):
            return f"unsupported URI scheme {scheme!r} in {_secrets.mask_dsn(dsn)!r}"
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        if authority.count("@") > 1:
            return "the user or password contains a raw '@': percent-encode it as %40"
    from psycopg import conninfo

    try:
        conninfo.conninfo_to_dict(dsn)
    except Exception:
        return f"malformed connection string {_secrets.mask_dsn(dsn)!r}"
    return None


def _dsn_port(dsn: str) -> int | None:
    from psycopg import conninfo

    try:
        port = conninfo.conninfo_to_dict(dsn).get("port")
    except Exception:
        return None
    try:
        return int(str(port).split(",")[0]) if port is not None else None
    except ValueError:
        return None

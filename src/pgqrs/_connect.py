"""Connection settings shared by the async and sync pools (pure code, no I/O)."""

from __future__ import annotations

import math
from typing import Any

from psycopg import conninfo

from pgqrs import _decoding
from pgqrs import config as config_module


def _dsn_settings(dsn: str) -> dict[str, Any]:
    try:
        return conninfo.conninfo_to_dict(dsn)
    except Exception:  # an embedded DSN, which is not libpq syntax
        return {}


def connection_kwargs(config: config_module.Config) -> dict[str, Any]:
    """Return the psycopg connection keyword arguments for `config`."""
    kwargs: dict[str, Any] = {
        # Every pgqrs call is one statement, so autocommit gives one round trip per call.
        "autocommit": True,
        # libpq's connect_timeout counts whole seconds, at least 2.
        "connect_timeout": max(2, math.ceil(config.connection_timeout_seconds)),
        # Notice a dead peer on an idle connection instead of hanging on it.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        # Payloads decode through pgqrs._decoding (faster, same values); copied per connection.
        "context": _decoding.ADAPTERS,
    }
    if "application_name" not in _dsn_settings(config.dsn):
        # Lets operators find pgqrs sessions in pg_stat_activity.
        kwargs["application_name"] = "pgqrs"
    if not config.use_prepared_statements:
        # A transaction pooler (PgBouncer < 1.21) routes each statement to any server
        # connection, where a prepared statement made on another does not exist.
        kwargs["prepare_threshold"] = None
    return kwargs

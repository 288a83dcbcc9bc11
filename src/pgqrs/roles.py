"""Least-privilege roles: the SQL that creates ``pgqrs_producer``, ``pgqrs_consumer``, ``pgqrs_observer``.

Pure code (no connection): `roles_sql` composes ``sql/roles.sql`` for a schema, quoting every
name with `psycopg.sql.Identifier`. Roles are cluster-wide while grants are per schema, so
installations that need separate roles per schema pass a `prefix` (``<prefix>_producer``, ...).
"""

from __future__ import annotations

from psycopg import sql

from pgqrs import _queries, _validation, errors

ROLE_KINDS = ("producer", "consumer", "observer")
DEFAULT_PREFIX = "pgqrs"
# The longest kind suffix ("_producer" / "_consumer" / "_observer") is 9 bytes: with it, a role
# name must stay within PostgreSQL's 63-byte identifier limit (longer ones are truncated).
_MAX_PREFIX_BYTES = 63 - len("_producer")


def role_names(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Return ``{"producer": "<prefix>_producer", ...}`` for a validated prefix.

    Raises:
        ValidationError: The prefix is not a plain identifier or is too long.
    """
    _validation.schema_name(prefix, "role prefix")
    if len(prefix.encode()) > _MAX_PREFIX_BYTES:
        raise errors.ValidationError(f"role prefix: {prefix!r} is longer than {_MAX_PREFIX_BYTES} bytes")
    return {kind: f"{prefix}_{kind}" for kind in ROLE_KINDS}


def roles_sql(schema: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Return the SQL script granting the producer, consumer and observer roles on `schema`.

    Args:
        schema: The schema holding the pgqrs tables.
        prefix: Role name prefix; the roles are ``<prefix>_producer``, ``_consumer``, ``_observer``.

    Returns:
        Idempotent SQL (several statements) to run as the tables' owner after install.

    Raises:
        ValidationError: The schema or prefix is not a valid name.
    """
    _validation.schema_name(schema)
    names = {kind: sql.Identifier(name) for kind, name in role_names(prefix).items()}
    text = _queries.read_sql_file("roles.sql")
    return sql.SQL(text).format(schema=sql.Identifier(schema), **names).as_string(None)

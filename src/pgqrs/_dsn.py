"""Turn a configured DSN into one libpq accepts (``embedded`` starts the embedded server)."""

from __future__ import annotations

from pgqrs import errors


def is_embedded(dsn: str) -> bool:
    """Return True for ``embedded`` and ``embedded:PATH``."""
    return dsn == "embedded" or dsn.startswith("embedded:")


def resolve(dsn: str) -> str:
    """Return a libpq connection string for `dsn`, starting the embedded server if it names one."""
    if not is_embedded(dsn):
        return dsn
    from pgqrs import _embedded

    try:
        return _embedded.resolve_dsn(dsn)
    except _embedded.EmbeddedServerError as exc:
        raise errors.DatabaseError(str(exc)) from exc

"""The one seam where driver errors become pgqrs errors.

Both the async and the generated sync code wrap every database call in `translate`. The driver's
exception stays reachable as ``__cause__``, with its text masked in place, because psycopg may
quote the connection string (password included) in it.
"""

from __future__ import annotations

import types

import psycopg
import psycopg_pool
from psycopg import errors as sqlstate_errors

from pgqrs import _secrets, errors

# SQLSTATE classes meaning "the connection is gone": 08 connection exception, 57P01-57P03
# admin shutdown / crash / cannot connect now, 25006 read-only transaction (a failover).
_LOST_CONNECTION_PREFIXES = ("08", "57P0", "25006")


def connection_lost(exc: BaseException) -> bool:
    """Return True when `exc` says the connection it used can no longer be trusted."""
    if isinstance(exc, errors.DatabaseError):
        return exc.connection_lost
    if isinstance(exc, psycopg.OperationalError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state.startswith(_LOST_CONNECTION_PREFIXES)


def _masked(exc: BaseException, dsn: str) -> str:
    text = _secrets.mask(str(exc).strip(), dsn)
    if isinstance(exc, Exception) and exc.args:
        exc.args = (text, *(_secrets.mask(str(arg), dsn) for arg in exc.args[1:]))
    return text


class translate:
    """Turn psycopg and pool errors raised inside the block into `pgqrs.errors` types.

    A class rather than a generator-based context manager: it is entered on every call, and
    this costs a fraction of contextlib's machinery.
    """

    __slots__ = ("_dsn", "_schema", "_timeout")

    def __init__(self, dsn: str, schema: str, timeout: float) -> None:
        self._dsn = dsn
        self._schema = schema
        self._timeout = timeout

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, errors.PgqrsError) or not isinstance(exc, psycopg.Error):
            return
        raise _translated(exc, self._dsn, self._schema, self._timeout) from exc


def _translated(exc: psycopg.Error, dsn: str, schema: str, timeout: float) -> errors.PgqrsError:
    if isinstance(exc, psycopg_pool.PoolTimeout):
        _masked(exc, dsn)
        error = errors.DatabaseError(
            f"no database connection available within {timeout:g}s (connection_timeout_seconds); "
            "is the server reachable and the pool large enough?"
        )
        error.connection_lost = True
        return error
    if isinstance(exc, (sqlstate_errors.UndefinedTable, sqlstate_errors.InvalidSchemaName)):
        _masked(exc, dsn)
        return errors.SchemaError(
            f"pgqrs is not installed in schema {schema!r} ({exc.diag.message_primary}); "
            f"run `pgqrs --schema {schema} install` or PgqrsAdmin.install()"
        )
    if isinstance(exc, sqlstate_errors.InsufficientPrivilege):
        return errors.PermissionDenied(_masked(exc, dsn), sqlstate=exc.sqlstate)
    database_error = errors.DatabaseError(_masked(exc, dsn), sqlstate=exc.sqlstate)
    database_error.connection_lost = connection_lost(exc)
    return database_error

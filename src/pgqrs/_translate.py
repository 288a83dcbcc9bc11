"""The one seam where driver errors become pgqrs errors.

Both the async and the generated sync code wrap every database call in `translate`. The driver's
exception stays reachable as ``__cause__``, with its text masked in place, because psycopg may
quote the connection string (password included) in it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def translate(dsn: str, schema: str, timeout: float) -> Iterator[None]:
    """Turn psycopg and pool errors raised inside the block into `pgqrs.errors` types."""
    try:
        yield
    except errors.PgqrsError:
        raise
    except psycopg_pool.PoolTimeout as exc:
        _masked(exc, dsn)
        error = errors.DatabaseError(
            f"no database connection available within {timeout:g}s (connection_timeout_seconds); "
            "is the server reachable and the pool large enough?"
        )
        error.connection_lost = True
        raise error from exc
    except (sqlstate_errors.UndefinedTable, sqlstate_errors.InvalidSchemaName) as exc:
        _masked(exc, dsn)
        raise errors.SchemaError(
            f"pgqrs is not installed in schema {schema!r} ({exc.diag.message_primary}); "
            f"run `pgqrs --schema {schema} install` or PgqrsAdmin.install()"
        ) from exc
    except sqlstate_errors.InsufficientPrivilege as exc:
        raise errors.PermissionDenied(_masked(exc, dsn), sqlstate=exc.sqlstate) from exc
    except psycopg.Error as exc:
        error = errors.DatabaseError(_masked(exc, dsn), sqlstate=exc.sqlstate)
        error.connection_lost = connection_lost(exc)
        raise error from exc

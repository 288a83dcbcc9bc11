"""The one seam where driver errors become pgqrs errors.

Both the async and the generated sync code wrap every database call in `translate`, and report a
failed statement through `translate.failed_call`, which also says whether it happened. The
driver's exception stays reachable as ``__cause__``, with its text masked in place, because
psycopg may quote the connection string (password included) in it.
"""

from __future__ import annotations

import types

import psycopg
import psycopg_pool
from psycopg import errors as sqlstate_errors

from pgqrs import _secrets, _watchdog, errors

# SQLSTATEs meaning "the connection is gone": class 08 (connection exception) and 57P01-57P05
# (the server shut down, crashed, is starting, the database was dropped, the session idled out;
# each FATAL: the server closes the connection). Other errors the server answers with, a cancel
# (57014), a deadlock (40P01), a serialization failure (40001), a lock not available (55P03),
# leave the connection as good as it was.
_GONE_PREFIXES = ("08", "57P0")
# 25006, a read-only transaction, on a connection still open: the primary failed over and this
# connection reached a server that is now a standby (or was repointed to one). It cannot do
# pgqrs's writes again, so it counts as lost: the caller may retry on a new connection, and the
# database seam discards it.
_READ_ONLY = "25006"
# PgBouncer's answers to a call it could give no server connection to (none could be made within
# query_wait_timeout, or logins to the server keep failing): the statement never left PgBouncer,
# so the call did not happen, though the connection is closed (a failover, a server restart).
_POOLER_REFUSED = "08P01"
_POOLER_REFUSALS = ("query_wait_timeout", "server login has been failing")


def gone(exc: BaseException, closed: bool | None = None) -> bool:
    """Return True when `exc` says the connection it used is gone, or `closed` (its state) does.

    `closed` is the driver's own state of the connection after the error, when known. Without
    it, a driver error with no SQLSTATE (no answer from any server) counts as a loss.
    """
    state = getattr(exc, "sqlstate", None)
    if state and state.startswith(_GONE_PREFIXES):
        return True
    if closed is not None:
        return closed
    return not state and isinstance(exc, psycopg.OperationalError)


def connection_lost(exc: BaseException, closed: bool | None = None) -> bool:
    """Return True when `exc` says the connection it used can no longer be trusted."""
    if isinstance(exc, errors.DatabaseError):
        return exc.connection_lost
    return gone(exc, closed) or getattr(exc, "sqlstate", None) == _READ_ONLY


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

    def failed_call(
        self, exc: psycopg.Error, closed: bool, fired: _watchdog.Call | None
    ) -> errors.PgqrsError:
        """Return the error for a call whose statement failed: did it happen, or may it have?

        `closed`: the driver's state of the connection after the error; `fired`: the call, if
        its deadline passed and the watchdog cancelled it.
        """
        if fired is not None and isinstance(exc, sqlstate_errors.QueryCanceled):
            _masked(exc, self._dsn)
            return errors.CallTimedOut(
                f"no answer from the database within {self._timeout:g}s (connection_timeout_seconds): "
                "the statement was cancelled on the server and did not happen",
                sqlstate=exc.sqlstate,
            )
        if _refused_by_pooler(exc):
            text = _masked(exc, self._dsn).splitlines()[0]
            refused = errors.DatabaseError(
                f"the pooler found no server for the call ({text}): it did not happen", sqlstate=exc.sqlstate
            )
            refused.connection_lost = True
            return refused
        if gone(exc, closed):
            shut_down = fired is not None and fired.shut_down
            message = _unknown(exc, self._dsn, self._timeout, shut_down)
            return errors.OutcomeUnknown(message, sqlstate=exc.sqlstate)
        return _translated(exc, self._dsn, self._schema, self._timeout, closed)


def _refused_by_pooler(exc: psycopg.Error) -> bool:
    """Return True for PgBouncer's refusal of a call it sent to no server."""
    message = exc.diag.message_primary or ""
    return exc.sqlstate == _POOLER_REFUSED and message.startswith(_POOLER_REFUSALS)


def _unknown(exc: psycopg.Error, dsn: str, timeout: float, shut_down: bool) -> str:
    """Return the message of an `OutcomeUnknown`, saying why the outcome is not known."""
    text = _masked(exc, dsn)  # always: the driver's error stays reachable as __cause__
    if shut_down:
        cause = (
            f"no answer from the database within {timeout:g}s (connection_timeout_seconds), and the "
            "server did not take the cancel of the statement in time: the connection was closed"
        )
    else:
        reason = text.splitlines()[0] if text else type(exc).__name__
        cause = f"the connection was lost during the call ({reason})"
    return f"{cause}; the call may or may not have happened"


def _translated(
    exc: psycopg.Error, dsn: str, schema: str, timeout: float, closed: bool | None = None
) -> errors.PgqrsError:
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
    database_error.connection_lost = connection_lost(exc, closed)
    return database_error

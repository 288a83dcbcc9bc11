"""Callers' connections: recognise SQLAlchemy objects and check the psycopg connection behind them.

Pure code (no I/O, SQLAlchemy never imported): the API's `_compat.driver_connection` does the
one step that differs between async and sync, getting the driver connection out of a session.
"""

from __future__ import annotations

from typing import Any

from psycopg import pq

from pgqrs import errors

# Fully qualified class -> kind: subclasses (a project's own Session class) are found through
# the MRO.
_SQLALCHEMY = {
    "sqlalchemy.orm.session.Session": "session",
    "sqlalchemy.engine.base.Connection": "connection",
    "sqlalchemy.ext.asyncio.session.AsyncSession": "async session",
    "sqlalchemy.ext.asyncio.engine.AsyncConnection": "async connection",
}


def sqlalchemy_kind(connection: object) -> str | None:
    """Return "session", "connection", "async session" or "async connection" for a SQLAlchemy
    object of that kind, else None."""
    for kind in type(connection).__mro__:
        found = _SQLALCHEMY.get(f"{kind.__module__}.{kind.__qualname__}")
        if found is not None:
            return found
    return None


def wrong_connection(connection: object, expected: str) -> errors.ValidationError:
    """Return the error for a `connection=` argument this API cannot use."""
    return errors.ValidationError(
        f"connection must be {expected}, got {type(connection).__module__}.{type(connection).__qualname__}"
        " (a SQLAlchemy engine must use psycopg 3: postgresql+psycopg://)"
    )


def in_transaction(connection: Any) -> bool:
    """Return True when a statement run now commits with the caller's transaction, not alone."""
    return not connection.autocommit or connection.info.transaction_status != pq.TransactionStatus.IDLE

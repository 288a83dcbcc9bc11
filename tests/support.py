"""Helpers shared by tests (not fixtures): direct connections, embedded fallback, processes."""

from __future__ import annotations

import os
from typing import Any

import psycopg

_embedded_dsn: str | None = None


def connect(dsn: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection that works through a transaction pooler too."""
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def embedded_test_dsn() -> str | None:
    """Start (once per session) an embedded server in a temporary directory, if pgserver exists."""
    global _embedded_dsn
    if _embedded_dsn is None and os.environ.get("PGQRS_TEST_EMBEDDED", "1") != "0":
        try:
            from tests import embedded_server
        except ImportError:
            return None
        _embedded_dsn = embedded_server.start()
    return _embedded_dsn


def count(dsn: str, sql: str, *params: Any) -> int:
    """Return the integer the query's first column gives."""
    with connect(dsn) as connection:
        row = connection.execute(sql, params or None).fetchone()
        assert row is not None
        return int(row[0])

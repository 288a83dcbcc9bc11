"""Shared fixtures: the test server's DSN and a fresh schema per test.

`PGQRS_TEST_DSN` names the PostgreSQL server (a real one, never a mock). Every test that touches
the database gets a schema of its own, created before and dropped after it, so tests can run in
any order and leave nothing behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

import pgqrs
from tests import support


@pytest.fixture(scope="session")
def dsn() -> str:
    """Return the test server's DSN (PGQRS_TEST_DSN)."""
    value = os.environ.get("PGQRS_TEST_DSN")
    if not value:
        value = support.embedded_test_dsn()
    if not value:
        pytest.skip("set PGQRS_TEST_DSN to a PostgreSQL server to run database tests")
    return value


@pytest.fixture
def schema(dsn: str) -> Iterator[str]:
    """Create an empty schema for one test and drop it (and everything in it) afterwards."""
    name = f"pgqrs_test_{uuid.uuid4().hex[:12]}"
    with support.connect(dsn) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with support.connect(dsn) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def config(dsn: str, schema: str) -> pgqrs.Config:
    """Return a config for the test's own schema, with short timeouts."""
    return pgqrs.Config.from_dsn_with_schema(dsn, schema).replace(connection_timeout_seconds=10)


@pytest.fixture
def raw(dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Return a plain autocommit psycopg connection to inspect the database directly."""
    with support.connect(dsn) as connection:
        yield connection


@pytest.fixture(scope="session")
def direct_dsn(dsn: str) -> str:
    """Return a DSN for PostgreSQL itself, not a pooler (PGQRS_TEST_DIRECT_DSN, or port 5432 of
    the pooler's host): to inspect the server, inject faults, or LISTEN."""
    from tests.reliability import harness

    direct = harness.derive_direct_dsn(dsn)
    try:
        with support.connect(direct) as connection:
            connection.execute("SELECT pg_backend_pid()")
    except Exception as exc:
        pytest.skip(f"needs a direct PostgreSQL connection (set PGQRS_TEST_DIRECT_DSN): {type(exc).__name__}")
    return direct

"""Testing code that uses pgqrs: a pytest plugin and helpers to look at what was enqueued.

pytest loads this module by itself wherever pgqrs is installed (entry point ``pytest11``, name
``pgqrs``), so importing it only defines the fixtures: nothing connects, reads the
environment or starts a server until a test asks for a fixture. Modelled on River's
``rivertest`` and ``Oban.Testing``::

    from pgqrs import sync, testing

    def test_signup_sends_the_welcome_email(pgqrs_config):
        signup(pgqrs_config, "ada@example.com")           # your code enqueues
        testing.assert_enqueued(pgqrs_config, "emails", payload={"to": "ada@example.com"})

    def test_the_worker_sends_it(pgqrs_config):
        ...                                                # enqueue, then drain with the app:
        app.run(pgqrs_config, until_empty=True)           # await app.run(...) for a pgqrs.App
        testing.refute_enqueued(pgqrs_config, "emails")

Fixtures: ``pgqrs_dsn`` (the server: ``PGQRS_TEST_DSN``, else the embedded one) and
``pgqrs_config`` (a `Config` on a fresh schema with pgqrs installed, dropped after the test).
The helpers block (they use `pgqrs.sync`); call them from async tests too.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgqrs import _dsn, models, sync
from pgqrs import config as config_module

ANY = object()  # matches any payload
_SHOWN = 5  # messages a failure message shows


@pytest.fixture(scope="session")
def pgqrs_dsn() -> str:
    """Return the server tests use: ``PGQRS_TEST_DSN``, else the embedded server (skip if neither)."""
    dsn = os.environ.get("PGQRS_TEST_DSN")
    if dsn:
        return dsn
    if importlib.util.find_spec("pgserver") is None:
        pytest.skip("set PGQRS_TEST_DSN, or install pgqrs-py[embedded] to test on the embedded server")
    return "embedded"


@pytest.fixture
def pgqrs_config(pgqrs_dsn: str) -> Iterator[config_module.Config]:
    """Return a config on a schema of the test's own, pgqrs installed; drop it after the test."""
    schema = f"pgqrs_test_{uuid.uuid4().hex[:12]}"
    _execute(pgqrs_dsn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        config = config_module.Config.from_dsn_with_schema(pgqrs_dsn, schema)
        with sync.PgqrsAdmin.connect(config.replace(max_connections=2)) as admin:
            admin.install()
        yield config
    finally:
        _execute(pgqrs_dsn, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _execute(dsn: str, statement: sql.Composed) -> None:
    with psycopg.connect(_dsn.resolve(dsn), autocommit=True, prepare_threshold=None) as connection:
        connection.execute(statement)


def enqueued(config: config_module.Config, queue: str) -> list[models.QueueMessage]:
    """Return the messages in `queue`, visible, delayed or leased, in delivery order.

    Raises:
        QueueNotFound: There is no such queue (a misspelt name does not pass for an empty queue).
    """
    with sync.PgqrsAdmin.connect(config.replace(max_connections=1)) as admin:
        return admin.messages.filter_by_fk(admin.get_queue(queue).id)


def assert_enqueued(
    config: config_module.Config, queue: str, payload: Any = ANY, count: int | None = None
) -> list[models.QueueMessage]:
    """Assert that `queue` holds messages whose payload matches `payload`; return them.

    A dict `payload` matches a payload holding at least its keys with equal values (the others
    are free); any other value must be equal. Without `payload`, every message matches.

    Args:
        count: Exactly this many must match (None: at least one).

    Raises:
        AssertionError: Not so; the message says what the queue holds.
    """
    __tracebackhide__ = True  # pytest shows the failure at the test's line
    messages = _messages(config, queue)
    matching = [message for message in messages if matches(message.payload, payload)]
    if (count is None and not matching) or (count is not None and len(matching) != count):
        expected = "at least 1" if count is None else str(count)
        raise AssertionError(_report(f"expected {expected}", queue, payload, matching, messages))
    return matching


def refute_enqueued(config: config_module.Config, queue: str, payload: Any = ANY) -> None:
    """Assert that no message in `queue` matches `payload` (see `assert_enqueued`).

    Raises:
        AssertionError: One does; the message shows them.
    """
    __tracebackhide__ = True
    messages = _messages(config, queue)
    matching = [message for message in messages if matches(message.payload, payload)]
    if matching:
        raise AssertionError(_report("expected no", queue, payload, matching, messages))


def matches(actual: Any, expected: Any) -> bool:
    """Return whether the payload `actual` matches `expected` (see `assert_enqueued`)."""
    if expected is ANY:
        return True
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(key in actual and actual[key] == value for key, value in expected.items())
    return bool(actual == expected)


def _messages(config: config_module.Config, queue: str) -> list[models.QueueMessage]:
    __tracebackhide__ = True
    try:
        return enqueued(config, queue)
    except sync.QueueNotFound:
        raise AssertionError(f"queue {queue!r} does not exist in schema {config.schema!r}") from None


def _report(
    expected: str,
    queue: str,
    payload: Any,
    matching: list[models.QueueMessage],
    messages: list[models.QueueMessage],
) -> str:
    wanted = "" if payload is ANY else f" with a payload matching {payload!r}"
    found = f"found {len(matching) or 'none'} among its {len(messages)}"
    shown = "\n".join(f"  id {message.id}: {message.payload!r}" for message in messages[:_SHOWN])
    more = f"\n  ... and {len(messages) - _SHOWN} more" if len(messages) > _SHOWN else ""
    return f"{expected} message(s) in queue {queue!r}{wanted}; {found}" + (
        f":\n{shown}{more}" if messages else ""
    )

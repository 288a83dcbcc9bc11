"""Deadlines: a call with no answer in time is cancelled on the server, or reported as unknown.

The calls under test block on a lock another session holds (a real one, on the real server), so
they outlive `connection_timeout_seconds` without any help from a mock. Time bounds are generous:
the bugs they catch take 30 s (the pool's own timeout) or forever.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Generator

import pytest
from psycopg_pool import AsyncConnectionPool

import pgqrs
from pgqrs import _watchdog
from tests import support
from tests.reliability import harness, proxy

TIMEOUT = 1.0  # connection_timeout_seconds of the calls under test
SLACK = 8.0  # scheduling slack on a shared 2-core machine


@contextlib.contextmanager
def locked(dsn: str, schema: str, *tables: str) -> Generator[None, None, None]:
    """Hold ACCESS EXCLUSIVE locks on pgqrs tables, in a transaction of the server itself."""
    with support.connect(harness.derive_direct_dsn(dsn)) as locker, locker.transaction():
        names = ", ".join(f'"{schema}".{table}' for table in tables)
        locker.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
        yield


def wait_until_no_statement_runs(dsn: str, schema: str) -> None:
    """Wait until the server runs no statement on the test's schema (one left running would commit)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND pid <> pg_backend_pid() AND position(%s in query) > 0"
    )
    direct = harness.derive_direct_dsn(dsn)
    harness.wait_until(lambda: support.count(direct, query, f'"{schema}".') == 0, 30, "statements to end")


@pytest.fixture
async def short(config: pgqrs.Config) -> AsyncIterator[pgqrs.PgqrsAdmin]:
    """Return an admin whose calls give up after TIMEOUT seconds, on one (reused) connection."""
    async with await pgqrs.PgqrsAdmin.connect(
        config.replace(connection_timeout_seconds=TIMEOUT, max_connections=1)
    ) as admin:
        await admin.install()
        yield admin


async def test_a_call_blocked_past_its_deadline_is_cancelled_and_does_not_happen(
    short: pgqrs.PgqrsAdmin, dsn: str, schema: str
) -> None:
    await check_a_blocked_enqueue_is_cancelled(short, dsn, schema)


async def test_the_cancel_works_with_a_libpq_older_than_17(
    short: pgqrs.PgqrsAdmin, dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without libpq 17's cancel connection, the watchdog sends the older blocking cancel request.
    monkeypatch.setattr(_watchdog.capabilities, "has_cancel_safe", lambda check=False: False)
    await check_a_blocked_enqueue_is_cancelled(short, dsn, schema)


async def check_a_blocked_enqueue_is_cancelled(short: pgqrs.PgqrsAdmin, dsn: str, schema: str) -> None:
    """Enqueue on a locked table past the deadline: cancelled, not written, the connection kept."""
    queue = await short.create_queue("jobs")
    producer = pgqrs.Producer(short.pool, queue, short.config)
    with locked(dsn, schema, "pgqrs_messages"):
        started = time.monotonic()
        with pytest.raises(pgqrs.errors.CallTimedOut) as caught:
            await producer.enqueue({"n": 1})
        assert time.monotonic() - started < TIMEOUT + SLACK
    assert (caught.value.sqlstate, caught.value.connection_lost) == ("57014", False)
    assert "did not happen" in str(caught.value)
    # Before the fix the statement went on waiting on the server and committed once the lock went.
    wait_until_no_statement_runs(dsn, schema)
    assert await short.messages.count() == 0
    stored = await producer.enqueue({"n": 2})  # on the same connection: it was kept, and works
    assert [message.id for message in await short.messages.list()] == [stored.id]


async def test_a_call_that_ends_after_its_deadline_keeps_its_result_and_its_connection(
    short: pgqrs.PgqrsAdmin,
) -> None:
    # The statement is done when the deadline passes: the cancel finds the backend idle, the call
    # returns what it got, and the connection (the pool's only one) must not carry a stray
    # cancel into the next statement.
    async with short._database.connection() as connection:
        cursor = await connection.execute("SELECT 42")
        row = await cursor.fetchone()
        time.sleep(TIMEOUT + 0.5)
    assert row == (42,)
    async with short._database.connection() as connection:
        cursor = await connection.execute("SELECT pg_sleep(0.2), 43")
        assert await cursor.fetchone() == ("", 43)


@pytest.mark.parametrize("fault", ["freeze", "cut"])
async def test_a_call_whose_server_cannot_be_reached_has_an_unknown_outcome(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str, fault: str
) -> None:
    with proxy.TcpProxy(*harness.host_and_port(dsn)) as link:
        config = link.config_for(admin.config, connection_timeout_seconds=TIMEOUT, max_connections=1)
        async with await pgqrs.PgqrsAdmin.connect(config) as through:
            producer = pgqrs.Producer(through.pool, queue, config)
            await producer.enqueue({"n": 1})
            getattr(link, fault)()  # freeze: the cancel cannot reach the server either
            started = time.monotonic()
            try:
                with pytest.raises(pgqrs.OutcomeUnknown) as caught:
                    await producer.enqueue({"n": 2})
                assert time.monotonic() - started < TIMEOUT + SLACK
            finally:
                link.heal()
            assert caught.value.connection_lost
            assert isinstance(caught.value, pgqrs.DatabaseError)
            assert "may or may not have happened" in str(caught.value)


async def test_the_configs_timeout_applies_on_a_callers_pool(
    queue: pgqrs.QueueInfo, config: pgqrs.Config, dsn: str, schema: str
) -> None:
    pool = AsyncConnectionPool(config.dsn, min_size=1, max_size=2, timeout=30, open=False)
    await pool.open(wait=True)
    short = config.replace(connection_timeout_seconds=TIMEOUT)
    try:
        producer = pgqrs.Producer(pool, queue, short)
        consumer = pgqrs.Consumer(pool, queue, short)
        with locked(dsn, schema, "pgqrs_messages", "pgqrs_workers"):
            started = time.monotonic()
            with pytest.raises(pgqrs.errors.CallTimedOut):
                await producer.enqueue({"n": 1})
            with pytest.raises(pgqrs.errors.CallTimedOut):
                await consumer.dequeue()  # registers the worker first: the table API's call
            assert time.monotonic() - started < 2 * TIMEOUT + SLACK
    finally:
        await pool.close()


async def test_the_wait_for_a_connection_of_a_callers_pool_follows_the_config(
    queue: pgqrs.QueueInfo, config: pgqrs.Config
) -> None:
    pool = AsyncConnectionPool(config.dsn, min_size=1, max_size=1, timeout=30, open=False)
    await pool.open(wait=True)
    try:
        producer = pgqrs.Producer(pool, queue, config.replace(connection_timeout_seconds=TIMEOUT))
        async with pool.connection():  # the pool's only connection is busy
            started = time.monotonic()
            with pytest.raises(pgqrs.DatabaseError, match="no database connection available within 1s"):
                await producer.enqueue({"n": 1})
            assert time.monotonic() - started < TIMEOUT + SLACK
    finally:
        await pool.close()

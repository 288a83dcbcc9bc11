"""Connections: unreachable servers fail in time, lost connections recover, passwords stay hidden."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from psycopg_pool import AsyncConnectionPool

import pgqrs
from pgqrs._async._database import PooledConnection
from tests import support


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Return the port of a TCP listener that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


async def test_silent_server_fails_within_the_connection_timeout(silent_server: int) -> None:
    config = pgqrs.Config.from_dsn(f"postgresql://app:hunter2secret@127.0.0.1:{silent_server}/db").replace(
        connection_timeout_seconds=2
    )
    started = time.monotonic()
    with pytest.raises(pgqrs.DatabaseError) as caught:
        await pgqrs.PgqrsAdmin.connect(config)
    assert time.monotonic() - started < 10
    assert "hunter2secret" not in str(caught.value)
    assert "hunter2secret" not in str(caught.value.__cause__)
    assert "hunter2secret" not in repr(caught.value.__cause__)


async def test_refused_connection_is_a_database_error() -> None:
    config = pgqrs.Config.from_dsn("postgresql://app:hunter2secret@127.0.0.1:1/db")
    with pytest.raises(pgqrs.DatabaseError) as caught:
        await pgqrs.PgqrsAdmin.connect(config)
    assert "hunter2secret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


async def test_unknown_role_reports_the_server_reason(dsn: str) -> None:
    with support.connect(dsn) as raw:
        info = raw.info
        host, port, dbname = info.host, info.port, info.dbname
    if port == 6432:
        pytest.skip("PgBouncer answers for unknown roles itself")
    config = pgqrs.Config.from_dsn(f"postgresql://no_such_role:hunter2secret@{host}:{port}/{dbname}")
    with pytest.raises(pgqrs.DatabaseError) as caught:
        await pgqrs.PgqrsAdmin.connect(config)
    assert "no_such_role" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


async def test_next_call_works_after_the_server_drops_every_connection(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str
) -> None:
    producer = pgqrs.Producer(admin.pool, queue)
    await producer.enqueue(1)
    with support.connect(dsn) as raw:
        raw.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'pgqrs' AND pid <> pg_backend_pid()"
        )
    failures = 0
    for _attempt in range(2):
        try:
            await producer.enqueue(2)
        except pgqrs.DatabaseError as error:
            assert error.connection_lost
            failures += 1
    assert failures <= 1
    assert await admin.messages.count() >= 2


async def test_a_callers_pool_without_autocommit_loses_nothing(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, config: pgqrs.Config
) -> None:
    # psycopg's pools hand out connections outside autocommit unless told otherwise, and roll
    # back whatever a returned connection left open: every call must commit its own statement.
    pool = AsyncConnectionPool(config.dsn, min_size=1, max_size=2, open=False)
    await pool.open(wait=True)
    try:
        producer = pgqrs.Producer(pool, queue, config)
        consumer = pgqrs.Consumer(pool, queue, config)
        one = await producer.enqueue({"n": 1})
        two, three = await producer.batch_enqueue([{"n": 2}, {"n": 3}])
        leased = await consumer.dequeue_batch(3)
        assert [message.id for message in leased] == [one.id, two.id, three.id]
        assert await consumer.delete(one.id)
        assert await consumer.archive(two.id)
        await consumer.close()
    finally:
        await pool.close()
    assert [message.id for message in await admin.messages.list()] == [three.id]
    assert (await admin.messages.get(three.id)).worker_id == consumer.worker_id
    assert (await admin.archive.get_by_original_id(queue.id, two.id)).payload == {"n": 2}


async def test_pgqrs_connections_keep_one_cursor_through_a_failed_call(config: pgqrs.Config) -> None:
    async with await pgqrs.PgqrsAdmin.connect(config.replace(max_connections=1)) as admin:
        await admin.install()
        queue = await admin.create_queue("jobs")
        producer = pgqrs.Producer(admin.pool, queue, admin.config)
        await producer.enqueue({"n": 1})
        async with admin.pool.connection() as connection:
            assert isinstance(connection, PooledConnection)
            kept = connection.pgqrs_cursor()
        gone = pgqrs.QueueInfo(queue.id + 1000, "gone", queue.created_at, queue.schema)
        with pytest.raises(pgqrs.QueueNotFound):
            await pgqrs.Producer(admin.pool, gone, admin.config).enqueue({"n": 2})
        stored = await producer.enqueue({"n": 3})
        async with admin.pool.connection() as connection:
            assert isinstance(connection, PooledConnection)
            assert connection.pgqrs_cursor() is kept
        assert (await admin.messages.get(stored.id)).payload == {"n": 3}
        assert await admin.messages.count() == 2

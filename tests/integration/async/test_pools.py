"""Pools: producers and consumers on any caller's pool, and idle connections that hold no rows."""

from __future__ import annotations

import pytest
from psycopg import conninfo
from psycopg_pool import AsyncConnectionPool

import pgqrs
from pgqrs._async._database import PooledConnection


async def test_producer_and_consumer_work_on_a_pool_built_from_keyword_arguments(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str
) -> None:
    # No conninfo string at all: nothing to rebuild a Config from, and nothing is needed.
    settings = conninfo.conninfo_to_dict(dsn)
    kwargs = {**settings, "prepare_threshold": None}  # through a transaction pooler too
    pool = AsyncConnectionPool(kwargs=kwargs, min_size=1, max_size=2, open=False)
    await pool.open(wait=True)
    try:
        producer = pgqrs.Producer(pool, queue)
        consumer = pgqrs.Consumer(pool, queue)
        sent = await producer.batch_enqueue([{"n": 1}, {"n": 2}])
        leased = await consumer.dequeue_batch()  # default_max_batch_size: the library default
        assert [message.id for message in leased] == [message.id for message in sent]
        assert await consumer.archive_batch([message.id for message in sent]) == [True, True]
        await consumer.close()
    finally:
        await pool.close()
    assert await admin.messages.count() == 0
    assert producer.config.max_payload_bytes == pgqrs.Config.from_dsn("postgresql://").max_payload_bytes


@pytest.mark.parametrize("size", [1, 10])
async def test_an_idle_pooled_connection_holds_no_result_rows(config: pgqrs.Config, size: int) -> None:
    # The kept cursor would otherwise hold the last result: up to batch x max_payload_bytes per
    # idle connection.
    async with await pgqrs.PgqrsAdmin.connect(config.replace(max_connections=1)) as admin:
        await admin.install()
        queue = await admin.create_queue("jobs")
        producer = pgqrs.Producer(admin.pool, queue, admin.config)
        consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
        await producer.batch_enqueue([{"blob": "x" * 100_000, "n": n} for n in range(size)])
        leased = await consumer.dequeue_batch(size)
        assert [message.payload["n"] for message in leased] == list(range(size))
        async with admin.pool.connection() as connection:
            assert isinstance(connection, PooledConnection)
            result = connection.pgqrs_cursor().pgresult
        assert result is None or result.ntuples == 0

"""Pools: producers and consumers on any caller's pool."""

from __future__ import annotations

from psycopg import conninfo
from psycopg_pool import AsyncConnectionPool

import pgqrs


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

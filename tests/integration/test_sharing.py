"""One Consumer shared by tasks (async) or threads (sync), and deleting a queue while it fills.

Not generated: the async test uses asyncio.gather, the sync one a thread pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

import pgqrs
from pgqrs import sync
from tests import support
from tests.reliability import harness

TASKS = 4


async def test_tasks_sharing_a_consumer_register_one_worker(config: pgqrs.Config) -> None:
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        queue = await admin.create_queue("shared")
        await pgqrs.Producer(admin.pool, queue).batch_enqueue([{"n": n} for n in range(40)])
        consumer = pgqrs.Consumer(admin.pool, queue, config)
        batches = await asyncio.gather(*(consumer.dequeue_batch(10) for _ in range(TASKS)))
        assert len(await admin.list_workers()) == 1
        acks = await asyncio.gather(*(consumer.delete_batch([m.id for m in batch]) for batch in batches))
        assert all(all(answers) and len(answers) == 10 for answers in acks)
        await consumer.close()


def test_threads_sharing_a_consumer_register_one_worker(config: pgqrs.Config) -> None:
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        queue = admin.create_queue("shared")
        sync.Producer(admin.pool, queue).batch_enqueue([{"n": n} for n in range(40)])
        consumer = sync.Consumer(admin.pool, queue, config)
        start = threading.Barrier(TASKS)

        def work() -> list[bool]:
            start.wait()
            return consumer.delete_batch([message.id for message in consumer.dequeue_batch(10)])

        with concurrent.futures.ThreadPoolExecutor(TASKS) as pool:
            answers = list(pool.map(lambda _: work(), range(TASKS)))
        assert len(admin.list_workers()) == 1
        assert sorted(len(batch) for batch in answers) == [10] * TASKS
        assert all(all(batch) for batch in answers)
        consumer.close()


def test_a_message_enqueued_during_delete_queue_makes_it_not_empty(
    config: pgqrs.Config, direct_dsn: str
) -> None:
    # The enqueue in flight and the lock watch go to the server itself: behind a pooler with two
    # server connections they would wait for the connection delete_queue holds.
    with sync.PgqrsAdmin.connect(config) as admin, support.connect(direct_dsn) as raw:
        admin.install()
        queue = admin.create_queue("busy")
        with raw.transaction():
            # An enqueue in flight: its row is not visible to delete_queue's count, but its
            # foreign-key lock on the queue row makes the delete wait until it commits.
            raw.execute(
                f'INSERT INTO "{config.schema}".pgqrs_messages (queue_id, payload) VALUES (%s, %s)',
                (queue.id, '{"n": 1}'),
            )
            deleting = harness.CallInThread(lambda: admin.delete_queue("busy"))
            harness.wait_until(
                lambda: harness.blocked_backend(direct_dsn, config.schema, "DELETE FROM") is not None,
                30,
                "delete_queue to wait for the enqueue",
            )
        with pytest.raises(pgqrs.QueueNotEmpty) as caught:
            deleting.result(30)
        assert (caught.value.queue, caught.value.count) == ("busy", 1)
        assert admin.get_queue("busy").id == queue.id

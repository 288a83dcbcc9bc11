"""Table trait interface example: the same count / count_by_fk / filter_by_fk on every table."""

from __future__ import annotations

import asyncio

import pgqrs
from pgqrs.tables import PgqrsArchiveTable, PgqrsMessages, PgqrsQueues, PgqrsWorkers


async def main() -> None:
    config = pgqrs.Config.load()
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        queue_info = await admin.create_queue("table_demo", exist_ok=True)
        await pgqrs.Producer(admin.pool, queue_info, config).batch_enqueue([{"n": n} for n in range(3)])
        consumer = pgqrs.Consumer(admin.pool, queue_info, config)
        message = await consumer.dequeue()
        if message is not None:
            await consumer.archive(message.id)

        pool = admin.pool
        queues = PgqrsQueues(pool, config.schema)
        workers = PgqrsWorkers(pool, config.schema)
        messages = PgqrsMessages(pool, config.schema)
        archives = PgqrsArchiveTable(pool, config.schema)

        total_queues = await queues.count()
        total_workers = await workers.count()
        total_messages = await messages.count()
        total_archives = await archives.count()
        print(
            f"System totals: {total_queues} queues, {total_workers} workers, "
            f"{total_messages} messages, {total_archives} archived"
        )

        queue_id = queue_info.id
        queue_workers = await workers.count_by_fk(queue_id)
        queue_messages = await messages.count_by_fk(queue_id)
        queue_archives = await archives.count_by_fk(queue_id)
        print(
            f"Queue {queue_id} has: {queue_workers} workers, {queue_messages} pending messages, "
            f"{queue_archives} archived messages"
        )

        workers_for_queue = await workers.filter_by_fk(queue_id)
        messages_for_queue = await messages.filter_by_fk(queue_id)
        print(
            f"Found {len(workers_for_queue)} workers and {len(messages_for_queue)} messages "
            f"for queue {queue_id}"
        )
        await consumer.close()


if __name__ == "__main__":
    asyncio.run(main())

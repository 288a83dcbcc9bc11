"""Programmatic archive API example: archive after processing, inspect, purge."""

from __future__ import annotations

import asyncio

import pgqrs
from pgqrs.tables import PgqrsArchiveTable


async def main() -> None:
    config = pgqrs.Config.load()
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        queue_info = await admin.create_queue("audited_email_queue", exist_ok=True)
        producer = pgqrs.Producer(admin.pool, queue_info, config)
        await producer.enqueue({"to": "user@example.com", "template": "receipt"})

        async with pgqrs.Consumer(admin.pool, queue_info, config) as consumer:
            message = await consumer.dequeue()
            if message is not None:
                print(f"Processing message {message.id}")
                if await consumer.archive(message.id):
                    print(f"Message {message.id} archived successfully")

        archives = PgqrsArchiveTable(admin.pool, config.schema)
        archive_count = await archives.count_by_fk(queue_info.id)
        print(f"Queue has {archive_count} archived messages")

        archived_messages = await archives.filter_by_fk(queue_info.id)
        print(f"Found {len(archived_messages)} archived messages")
        if archived_messages:
            first = await archives.get(archived_messages[0].id)
            print(
                f"Archived message details: original id {first.original_msg_id}, "
                f"read {first.read_ct} time(s), processed in {first.processing_duration} ms"
            )

        purged = await admin.purge_archive("audited_email_queue")
        print(f"Archive purged ({purged} records)")


if __name__ == "__main__":
    asyncio.run(main())

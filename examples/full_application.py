"""Full application example: queues, producers, consumers, batches and metrics (async API).

Run with PGQRS_DSN set (and optionally PGQRS_SCHEMA, or a pgqrs.yaml file).
"""

from __future__ import annotations

import asyncio
import logging

import pgqrs


async def main() -> None:
    logging.basicConfig(level=logging.INFO)

    # Load configuration: environment > PGQRS_CONFIG_FILE > ./pgqrs.yaml. Alternatives:
    #   pgqrs.Config.from_env(), pgqrs.Config.from_file("pgqrs.yaml"),
    #   pgqrs.Config.from_dsn("postgresql://postgres:postgres@localhost:5432/postgres")
    config = pgqrs.Config.load()

    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        for name in ("email_queue", "task_queue"):
            await admin.create_queue(name, exist_ok=True)

        email_queue_info = await admin.get_queue("email_queue")
        task_queue_info = await admin.get_queue("task_queue")

        email_producer = pgqrs.Producer(admin.pool, email_queue_info, config)
        task_producer = pgqrs.Producer(admin.pool, task_queue_info, config)
        email_consumer = pgqrs.Consumer(admin.pool, email_queue_info, config)
        task_consumer = pgqrs.Consumer(admin.pool, task_queue_info, config)

        email_payload = {"to": "user@example.com", "subject": "Welcome!", "body": "Welcome to our service!"}
        email_message = await email_producer.enqueue(email_payload)
        print(f"Sent email message with ID: {email_message.id}")

        task_payload = {
            "task_type": "image_resize",
            "image_url": "https://example.com/image.jpg",
            "dimensions": {"width": 800, "height": 600},
        }
        task_message = await task_producer.enqueue(task_payload)
        print(f"Sent task message with ID: {task_message.id}")
        await task_producer.batch_enqueue([{"task_type": "thumbnail", "n": n} for n in range(5)])

        email = await email_consumer.dequeue()
        if email is not None:
            print(f"Processing email message: {email.id}")
            if await email_consumer.archive(email.id):
                print(f"Archived email message {email.id} successfully")

        task = await task_consumer.dequeue()
        if task is not None:
            print(f"Processing task message: {task.id}")
            if await task_consumer.delete(task.id):
                print(f"Deleted task message {task.id} successfully")

        task_messages = await task_consumer.dequeue_batch(5)
        if task_messages:
            print(f"Processing {len(task_messages)} task messages in batch")
            deleted = await task_consumer.delete_batch([message.id for message in task_messages])
            print(f"Successfully deleted {sum(deleted)} task messages")

        email_metrics = await admin.queue_metrics("email_queue")
        print(f"Email queue metrics: {email_metrics.pending_count} pending messages")
        for metrics in await admin.all_queues_metrics():
            print(
                f"{metrics.queue_name}: total={metrics.total_messages} pending={metrics.pending_count} "
                f"locked={metrics.locked_count} archived={metrics.archived_count}"
            )

        await email_consumer.close()
        await task_consumer.close()


if __name__ == "__main__":
    asyncio.run(main())

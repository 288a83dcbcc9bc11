"""Producer example (message creation service): single, delayed and batch enqueue.

Run with PGQRS_DSN set (and optionally PGQRS_SCHEMA, or a pgqrs.yaml file).
"""

from __future__ import annotations

import asyncio
import datetime

import pgqrs


async def main() -> None:
    config = pgqrs.Config.load()
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        queue_info = await admin.create_queue("email_queue", exist_ok=True)

        producer = pgqrs.Producer(admin.pool, queue_info, config)

        welcome_email = {"to": "user@example.com", "template": "welcome", "data": {"name": "John Doe"}}
        message = await producer.enqueue(welcome_email)
        print(f"Enqueued welcome email: {message.id}")

        newsletter = {"to": "user@example.com", "template": "weekly_newsletter"}
        delayed = await producer.enqueue_delayed(newsletter, datetime.timedelta(days=7))
        print(f"Scheduled newsletter: {delayed.id} (visible at {delayed.vt:%Y-%m-%d %H:%M})")

        batch_emails = [
            {"to": "user1@example.com", "template": "promotion"},
            {"to": "user2@example.com", "template": "promotion"},
            {"to": "user3@example.com", "template": "promotion"},
        ]
        batch = await producer.batch_enqueue(batch_emails)
        print(f"Enqueued {len(batch)} promotional emails")


if __name__ == "__main__":
    asyncio.run(main())

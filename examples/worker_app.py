"""A worker app with the async runtime: two handlers, a retry policy, Retry and Discard.

    pgqrs worker run examples.worker_app:app     # from the repository's root: until Ctrl-C
    python examples/worker_app.py                # enqueue a few jobs, work until none is left

Both take the configuration from PGQRS_DSN (and PGQRS_SCHEMA) or ./pgqrs.yaml. The blocking
twin of this app is examples/worker_app_sync.py.
"""

from __future__ import annotations

import asyncio
import logging

import pgqrs

app = pgqrs.App()


@app.handler(
    "emails",
    concurrency=8,
    lock_time=30,
    retry=pgqrs.RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=300.0, jitter=0.1),
)
async def send_email(message: pgqrs.QueueMessage) -> None:
    """Send one email; archived once this returns."""
    address = message.payload["to"]
    if "@" not in address:
        raise pgqrs.Discard(f"not an email address: {address!r}")  # no retry can fix it
    if message.payload.get("server_busy") and message.attempt == 1:
        raise pgqrs.Retry(0.5)  # the mail server asked us to come back in half a second
    await asyncio.sleep(0.01)  # ... talk to the mail server ...
    print(f"sent {message.payload['template']!r} to {address}")


@app.handler(
    "thumbnails", concurrency=2, on_success="delete", retry=pgqrs.RetryPolicy(max_attempts=3, base_delay=0.2)
)
async def make_thumbnail(message: pgqrs.QueueMessage) -> None:
    """Make one thumbnail; deleted once this returns, retried with backoff when it raises."""
    if message.payload.get("flaky") and message.attempt == 1:
        raise ConnectionError("image store unavailable")
    print(f"thumbnail of {message.payload['image']} made on attempt {message.attempt}")


EMAILS = [
    {"to": "ada@example.com", "template": "welcome"},
    {"to": "bob@example.com", "template": "welcome", "server_busy": True},
    {"to": "not-an-address", "template": "welcome"},
]
THUMBNAILS = [{"image": "cat.png"}, {"image": "dog.png", "flaky": True}]


async def enqueue_jobs(config: pgqrs.Config) -> None:
    """Install pgqrs if needed and enqueue the example's jobs."""
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        for queue, payloads in (("emails", EMAILS), ("thumbnails", THUMBNAILS)):
            info = await admin.create_queue(queue, exist_ok=True)
            await pgqrs.Producer(admin.pool, info, config).batch_enqueue(payloads)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = pgqrs.Config.load()
    await enqueue_jobs(config)
    stats = await app.run(config, until_empty=True)
    print(
        f"handled {stats.handled}: {stats.succeeded} succeeded, {stats.retried} retried, "
        f"{stats.dead_lettered} dead-lettered"
    )


if __name__ == "__main__":
    asyncio.run(main())

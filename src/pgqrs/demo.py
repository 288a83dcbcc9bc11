"""`pgqrs demo`: the whole life of a queue in one run, with figures.

Installs the schema if needed, enqueues N messages in batches, drains them with W concurrent
consumers that archive what they process, then checks that every message was archived exactly
once and reports throughput. Used by the CLI; callable from Python too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from pgqrs import config as config_module
from pgqrs import models
from pgqrs._async import admin as admin_module
from pgqrs._async import consumer as consumer_module
from pgqrs._async import producer as producer_module

QUEUE_NAME = "demo"
Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What a demo run did and measured."""

    queue_name: str
    messages: int
    workers: int
    batch_size: int
    enqueue_seconds: float
    enqueue_per_second: float
    process_seconds: float
    process_per_second: float
    archived: int
    archived_distinct: int
    duplicates_seen: int
    remaining: int
    metrics: models.QueueMetrics

    @property
    def every_message_archived_once(self) -> bool:
        """Return True when each enqueued message is in the archive exactly once."""
        return self.archived == self.archived_distinct == self.messages and self.remaining == 0

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data (for JSON)."""
        data = dataclasses.asdict(self)
        data["metrics"] = models.as_dict(self.metrics)
        data["every_message_archived_once"] = self.every_message_archived_once
        return data


def run(
    config: config_module.Config,
    messages: int = 10_000,
    workers: int = 2,
    batch_size: int = 100,
    work_seconds: float = 0.0,
    progress: Progress | None = None,
) -> DemoSummary:
    """Run the demo to completion and return its summary (blocking)."""
    return asyncio.run(run_async(config, messages, workers, batch_size, work_seconds, progress))


async def run_async(
    config: config_module.Config,
    messages: int = 10_000,
    workers: int = 2,
    batch_size: int = 100,
    work_seconds: float = 0.0,
    progress: Progress | None = None,
) -> DemoSummary:
    """Run the demo on the event loop and return its summary."""
    report = progress or (lambda phase, done, total: None)
    async with await admin_module.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        queue = await admin.create_queue(QUEUE_NAME, exist_ok=True)
        # A rerun on the same (embedded) database starts from an empty queue and archive.
        await admin.purge_queue(QUEUE_NAME)
        await admin.purge_archive(QUEUE_NAME)

        started = time.perf_counter()
        await _enqueue(producer_module.Producer(admin.pool, queue, config), messages, batch_size, report)
        enqueue_seconds = time.perf_counter() - started

        started = time.perf_counter()
        seen = await _drain(admin, queue, config, messages, workers, batch_size, work_seconds, report)
        process_seconds = time.perf_counter() - started

        archived, distinct = await admin.archive.delivery_summary(queue.id)
        metrics = await admin.queue_metrics(QUEUE_NAME)
    return DemoSummary(
        queue_name=QUEUE_NAME,
        messages=messages,
        workers=workers,
        batch_size=batch_size,
        enqueue_seconds=enqueue_seconds,
        enqueue_per_second=messages / enqueue_seconds if enqueue_seconds else 0.0,
        process_seconds=process_seconds,
        process_per_second=messages / process_seconds if process_seconds else 0.0,
        archived=archived,
        archived_distinct=distinct,
        duplicates_seen=len(seen) - len(set(seen)),
        remaining=metrics.total_messages,
        metrics=metrics,
    )


async def _enqueue(
    producer: producer_module.Producer, messages: int, batch_size: int, report: Progress
) -> None:
    sent = 0
    while sent < messages:
        size = min(batch_size, messages - sent)
        await producer.batch_enqueue([{"type": "demo", "n": sent + index} for index in range(size)])
        sent += size
        report("enqueue", sent, messages)


async def _drain(
    admin: admin_module.PgqrsAdmin,
    queue: models.QueueInfo,
    config: config_module.Config,
    messages: int,
    workers: int,
    batch_size: int,
    work_seconds: float,
    report: Progress,
) -> list[int]:
    seen: list[int] = []

    async def work() -> None:
        async with consumer_module.Consumer(admin.pool, queue, config) as consumer:
            while len(seen) < messages:
                batch = await consumer.dequeue_batch(batch_size, lock_time=max(30.0, work_seconds * 10))
                if not batch:
                    await asyncio.sleep(0.05)
                    continue
                if work_seconds:
                    await asyncio.sleep(work_seconds)
                done = await consumer.archive_batch([message.id for message in batch])
                seen.extend(message.id for message, ok in zip(batch, done, strict=True) if ok)
                report("process", len(seen), messages)

    await asyncio.gather(*(work() for _ in range(workers)))
    return seen

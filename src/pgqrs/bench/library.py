"""The pgqrs side of each workload, through the public API only, as step generators.

Each generator does a slice of the workload per `next()` (the runner times every slice, and can
alternate slices of several targets) and records the ids it acknowledged in `seen`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

ENQUEUES_PER_STEP = 50
BATCHES_PER_STEP = 5
SINGLE_CONSUMES_PER_STEP = 10


def enqueue_each(producer: Any, items: Sequence[Any]) -> Iterator[None]:
    """W1: one `enqueue` per message."""
    for start in range(0, len(items), ENQUEUES_PER_STEP):
        for item in items[start : start + ENQUEUES_PER_STEP]:
            producer.enqueue(item)
        yield


def enqueue_batches(producer: Any, batches: Sequence[Sequence[Any]]) -> Iterator[None]:
    """W2: one `batch_enqueue` per batch."""
    for start in range(0, len(batches), BATCHES_PER_STEP):
        for batch in batches[start : start + BATCHES_PER_STEP]:
            producer.batch_enqueue(batch)
        yield


def drain(consumer: Any, batch: int, archive: bool, limit: int | None, seen: list[int]) -> Iterator[None]:
    """W3/W3a/W5/W7: `dequeue_batch` + `delete_batch` (or `archive_batch`) until empty (or `limit`)."""
    acknowledge = consumer.archive_batch if archive else consumer.delete_batch
    while True:
        for _ in range(BATCHES_PER_STEP):
            wanted = batch if limit is None else min(batch, limit - len(seen))
            messages = consumer.dequeue_batch(wanted) if wanted > 0 else []
            if not messages:
                return
            ids = [message.id for message in messages]
            if False in acknowledge(ids):
                raise RuntimeError("pgqrs: an acknowledgement missed a message")
            seen.extend(ids)
        yield


def drain_each(consumer: Any, seen: list[int]) -> Iterator[None]:
    """W4: `dequeue` + `delete` one message at a time until empty."""
    while True:
        for _ in range(SINGLE_CONSUMES_PER_STEP):
            message = consumer.dequeue()
            if message is None:
                return
            if not consumer.delete(message.id):
                raise RuntimeError("pgqrs: delete missed a message")
            seen.append(message.id)
        yield


async def enqueue_each_async(producer: Any, items: Sequence[Any]) -> AsyncIterator[None]:
    """W1, async API."""
    for start in range(0, len(items), ENQUEUES_PER_STEP):
        for item in items[start : start + ENQUEUES_PER_STEP]:
            await producer.enqueue(item)
        yield


async def enqueue_batches_async(producer: Any, batches: Sequence[Sequence[Any]]) -> AsyncIterator[None]:
    """W2, async API."""
    for start in range(0, len(batches), BATCHES_PER_STEP):
        for batch in batches[start : start + BATCHES_PER_STEP]:
            await producer.batch_enqueue(batch)
        yield


async def drain_async(
    consumer: Any, batch: int, archive: bool, limit: int | None, seen: list[int]
) -> AsyncIterator[None]:
    """W3/W3a/W5/W7, async API."""
    acknowledge = consumer.archive_batch if archive else consumer.delete_batch
    while True:
        for _ in range(BATCHES_PER_STEP):
            wanted = batch if limit is None else min(batch, limit - len(seen))
            messages = await consumer.dequeue_batch(wanted) if wanted > 0 else []
            if not messages:
                return
            ids = [message.id for message in messages]
            if False in await acknowledge(ids):
                raise RuntimeError("pgqrs: an acknowledgement missed a message")
            seen.extend(ids)
        yield


async def drain_each_async(consumer: Any, seen: list[int]) -> AsyncIterator[None]:
    """W4, async API."""
    while True:
        for _ in range(SINGLE_CONSUMES_PER_STEP):
            message = await consumer.dequeue()
            if message is None:
                return
            if not await consumer.delete(message.id):
                raise RuntimeError("pgqrs: delete missed a message")
            seen.append(message.id)
        yield


def run_to_end(steps: Iterator[None]) -> None:
    """Exhaust a step generator (a whole workload in one go)."""
    for _ in steps:
        pass


async def run_to_end_async(steps: AsyncIterator[None]) -> None:
    """Exhaust an async step generator."""
    async for _ in steps:
        pass

"""The pgqrs side of each workload, through the public API only (blocking and async)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pgqrs
from pgqrs import sync as pgqrs_sync


def enqueue_each(producer: pgqrs_sync.Producer, items: Sequence[Any]) -> None:
    """W1: one `enqueue` per message."""
    for item in items:
        producer.enqueue(item)


def enqueue_batches(producer: pgqrs_sync.Producer, batches: Sequence[Sequence[Any]]) -> None:
    """W2: one `batch_enqueue` per batch."""
    for batch in batches:
        producer.batch_enqueue(batch)


def drain(
    consumer: pgqrs_sync.Consumer, batch: int, archive: bool = False, limit: int | None = None
) -> list[int]:
    """W3/W3a/W5/W7: `dequeue_batch` + `delete_batch` (or `archive_batch`) until empty."""
    seen: list[int] = []
    acknowledge = consumer.archive_batch if archive else consumer.delete_batch
    while limit is None or len(seen) < limit:
        messages = consumer.dequeue_batch(batch if limit is None else min(batch, limit - len(seen)))
        if not messages:
            break
        ids = [message.id for message in messages]
        if False in acknowledge(ids):
            raise RuntimeError("pgqrs: an acknowledgement missed a message")
        seen.extend(ids)
    return seen


def drain_each(consumer: pgqrs_sync.Consumer) -> list[int]:
    """W4: `dequeue` + `delete` one message at a time until empty."""
    seen: list[int] = []
    while (message := consumer.dequeue()) is not None:
        if not consumer.delete(message.id):
            raise RuntimeError("pgqrs: delete missed a message")
        seen.append(message.id)
    return seen


async def enqueue_each_async(producer: pgqrs.Producer, items: Sequence[Any]) -> None:
    """W1, async API."""
    for item in items:
        await producer.enqueue(item)


async def enqueue_batches_async(producer: pgqrs.Producer, batches: Sequence[Sequence[Any]]) -> None:
    """W2, async API."""
    for batch in batches:
        await producer.batch_enqueue(batch)


async def drain_async(
    consumer: pgqrs.Consumer, batch: int, archive: bool = False, limit: int | None = None
) -> list[int]:
    """W3/W3a/W5/W7, async API."""
    seen: list[int] = []
    acknowledge = consumer.archive_batch if archive else consumer.delete_batch
    while limit is None or len(seen) < limit:
        messages = await consumer.dequeue_batch(batch if limit is None else min(batch, limit - len(seen)))
        if not messages:
            break
        ids = [message.id for message in messages]
        if False in await acknowledge(ids):
            raise RuntimeError("pgqrs: an acknowledgement missed a message")
        seen.extend(ids)
    return seen


async def drain_each_async(consumer: pgqrs.Consumer) -> list[int]:
    """W4, async API."""
    seen: list[int] = []
    while (message := await consumer.dequeue()) is not None:
        if not await consumer.delete(message.id):
            raise RuntimeError("pgqrs: delete missed a message")
        seen.append(message.id)
    return seen

"""The raw+schema floor's SQL through psycopg's async connection (``raw-async+schema``, ``--bounds``).

Statement for statement the queue of `raw.py` (on pgqrs's table shape), awaited on one autocommit
`AsyncConnection`: the same work plus the cost of psycopg's async path itself, which pgqrs's
async API (built on psycopg's async pool) cannot go below. The step generators mirror
`raw.py`'s with ``await``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pgqrs.bench import raw
from pgqrs.bench.library import BATCHES_PER_STEP, ENQUEUES_PER_STEP, SINGLE_CONSUMES_PER_STEP


class AsyncRawQueue:
    """The baseline queue on one async autocommit connection."""

    def __init__(
        self, connection: psycopg.AsyncConnection[Any], schema: str, required_schema: bool = False
    ) -> None:
        self.connection = connection
        identifier = sql.Identifier(schema)
        self._enqueue, self._enqueue_batch, self._dequeue, self._delete, self._archive = (
            sql.SQL(text).format(schema=identifier).as_bytes(connection)
            for text in raw.statements(required_schema)
        )

    @classmethod
    async def connect(cls, dsn: str, schema: str, required_schema: bool = False) -> AsyncRawQueue:
        """Open the connection (prepared like the sync baseline)."""
        connection = await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, prepare_threshold=raw.prepare_threshold(dsn)
        )
        return cls(connection, schema, required_schema)

    async def close(self) -> None:
        """Close the connection."""
        await self.connection.close()

    async def enqueue(self, payload: Any) -> int:
        """Insert one message; return its id."""
        cursor = await self.connection.execute(self._enqueue, (Jsonb(payload),))
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def enqueue_batch(self, payloads: Sequence[Any]) -> list[int]:
        """Insert many messages in one statement; return their ids."""
        cursor = await self.connection.execute(self._enqueue_batch, ([Jsonb(item) for item in payloads],))
        return [row[0] for row in await cursor.fetchall()]

    async def dequeue(self, limit: int) -> list[tuple[int, Any]]:
        """Lease up to `limit` visible messages; return (id, payload) pairs."""
        cursor = await self.connection.execute(self._dequeue, (limit,))
        return await cursor.fetchall()

    async def delete(self, ids: list[int]) -> int:
        """Delete messages by id; return how many went."""
        return (await self.connection.execute(self._delete, (ids,))).rowcount

    async def archive(self, ids: list[int]) -> int:
        """Move messages to the archive table; return how many moved."""
        return (await self.connection.execute(self._archive, (ids,))).rowcount


async def drain(
    queue: AsyncRawQueue, batch: int, archive: bool, limit: int | None, seen: list[int]
) -> AsyncIterator[None]:
    """Dequeue and acknowledge until empty (or `limit` messages), a few batches per step."""
    acknowledge = queue.archive if archive else queue.delete
    while True:
        for _ in range(BATCHES_PER_STEP):
            wanted = batch if limit is None else min(batch, limit - len(seen))
            rows = await queue.dequeue(wanted) if wanted > 0 else []
            if not rows:
                return
            ids = [row[0] for row in rows]
            if await acknowledge(ids) != len(ids):
                raise RuntimeError("raw-async+schema floor: an acknowledgement missed a message")
            seen.extend(ids)
        yield


async def drain_each(queue: AsyncRawQueue, seen: list[int]) -> AsyncIterator[None]:
    """Dequeue and delete one message at a time until empty."""
    while True:
        for _ in range(SINGLE_CONSUMES_PER_STEP):
            rows = await queue.dequeue(1)
            if not rows:
                return
            if await queue.delete([rows[0][0]]) != 1:
                raise RuntimeError("raw-async+schema floor: delete missed a message")
            seen.append(rows[0][0])
        yield


async def enqueue_each(queue: AsyncRawQueue, items: Sequence[Any]) -> AsyncIterator[None]:
    """One insert per message."""
    for start in range(0, len(items), ENQUEUES_PER_STEP):
        for item in items[start : start + ENQUEUES_PER_STEP]:
            await queue.enqueue(item)
        yield


async def enqueue_batches(queue: AsyncRawQueue, batches: Sequence[Sequence[Any]]) -> AsyncIterator[None]:
    """One insert statement per batch."""
    for start in range(0, len(batches), BATCHES_PER_STEP):
        for batch in batches[start : start + BATCHES_PER_STEP]:
            await queue.enqueue_batch(batch)
        yield

"""The pgqrs_dedup_keys table: dedup keys kept reserved after their message was acknowledged.

A queue's `dedup_window` (migration 0009) keeps the key of each message its consumers
acknowledge reserved for that long; the acknowledgement writes the row and the keyed enqueue
reads it (both in SQL: see archive_move_keyed and pgqrs_enqueue_keyed). This module only
removes the expired rows, in bounded batches (the runtime's maintenance calls it).
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from pgqrs import _validation
from pgqrs._async import _database

# Rows one purge statement removes at most: a short statement, whatever the backlog.
PURGE_BATCH = 1_000


class PgqrsDedupKeys:
    """Reserved dedup keys of one pgqrs schema."""

    def __init__(self, pool: AsyncConnectionPool, schema: str, timeout: float | None = None) -> None:
        self._database = _database.Database(pool, schema, timeout)

    async def purge_expired(self, limit: int = PURGE_BATCH) -> int:
        """Remove up to `limit` expired reservations (oldest first); return how many.

        An expired reservation no longer holds its key; removing it only reclaims the space.
        """
        params = {"limit": _validation.positive_int(limit, "limit")}
        return int(await self._database.scalar("dedup_key_purge", params))

    async def count_reserved(self, queue_id: int) -> int:
        """Return how many keys of the queue are reserved now (expired ones are not)."""
        return int(await self._database.scalar("dedup_key_count_by_queue", {"queue_id": queue_id}))

"""Archive retention: purging archive records by age, and the daily partitions of the archive.

Rows go in bounded batches, each its own short transaction (a batch's locks are held for one
batch only, and rows another transaction holds are skipped). A partitioned archive loses whole
day partitions instead (DROP TABLE: no dead rows, no vacuum, almost no WAL); the DDL runs in the
functions of migration 0008. The runtime's retention is elected per batch with a
transaction-scoped advisory lock: while one runtime purges, the others skip their round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgqrs import errors
from pgqrs._async import _database

BATCH_SIZE = 1000  # records deleted per transaction
DAYS_AHEAD = 7  # day partitions kept ready ahead of today
_NOT_IN_PREREQUISITE_STATE = "55000"  # pgqrs_archive_partition_by_day: the archive is not empty


class Retention:
    """Purges one schema's archive by age; prepares its day partitions."""

    def __init__(self, database: _database.Database) -> None:
        self._database = database

    async def partitioned(self) -> bool:
        """Return whether the archive is on partitions."""
        return bool(await self._database.scalar("retention_partitioned", {"schema": self._database.schema}))

    async def partition_by_day(self) -> bool:
        """Put an empty archive on day partitions; return False when it already is.

        Raises:
            SchemaError: The archive holds records (only an empty one is converted).
        """
        try:
            return bool(await self._database.scalar("retention_partition_by_day", {"days_ahead": DAYS_AHEAD}))
        except errors.DatabaseError as error:
            if error.sqlstate != _NOT_IN_PREREQUISITE_STATE:
                raise
        raise errors.SchemaError(
            f"archive_partitioning daily: the archive of schema {self._database.schema!r} holds records; "
            "only an empty archive is put on partitions (a new install, or purge the archive first)"
        )

    async def partition_ahead(self) -> int:
        """Create the missing day partitions up to DAYS_AHEAD days ahead; return how many."""
        return int(await self._database.scalar("retention_partition_ahead", {"days_ahead": DAYS_AHEAD}))

    async def purge(
        self, queue_ids: list[int] | None, older_than: float, dead_letters: bool, batch_size: int = BATCH_SIZE
    ) -> int:
        """Delete the records archived more than `older_than` seconds ago; return how many.

        Of the queues `queue_ids` (None: every queue, when whole day partitions are dropped
        first); dead letters only when `dead_letters`.
        """
        removed = 0
        if queue_ids is None:
            removed += await self._drop_partitions(older_than, dead_letters, elect=False) or 0
            queue_ids = await self._queue_ids()
        for queue_id in queue_ids:
            params = self._params(queue_id, older_than, dead_letters, batch_size)
            while True:
                count = int(await self._database.scalar("retention_purge_batch", params))
                removed += count
                if count < batch_size:
                    break
        return removed

    async def apply(
        self, older_than: float, batch_size: int = BATCH_SIZE, stopping: Callable[[], bool] = lambda: False
    ) -> int | None:
        """The runtime's round: purge every queue's acknowledged records older than `older_than`.

        On a partitioned archive only whole day partitions go (and old rows of the default
        partition). Returns how many records went, or None when another runtime is purging.
        `stopping` is asked between batches: a runtime that stops ends its round there (a first
        round over years of archive could otherwise hold up its shutdown).
        """
        partitioned = await self.partitioned()
        removed = 0
        if partitioned:
            dropped = await self._drop_partitions(older_than, False, elect=True)
            if dropped is None:
                return None
            removed += dropped
        batch = "retention_purge_default_batch" if partitioned else "retention_purge_batch"
        for queue_id in await self._queue_ids():
            params = self._params(queue_id, older_than, False, batch_size)
            while not stopping():
                won, count = await self._elected(batch, params)
                if not won:
                    return None
                removed += int(count)
                if count < batch_size:
                    break
        return removed

    async def _drop_partitions(self, older_than: float, dead_letters: bool, elect: bool) -> int | None:
        """Drop every day partition wholly older than `older_than`, one per transaction; return
        the records dropped (None: `elect` and another runtime is purging)."""
        removed = 0
        params = {"older_than": older_than, "dead_letters": dead_letters}
        while True:
            if elect:
                won, count = await self._elected("retention_drop_partition", params)
                if not won:
                    return None
            else:
                count = await self._database.scalar("retention_drop_partition", params)
            if count is None:
                return removed
            removed += int(count)

    async def _elected(self, name: str, params: dict[str, Any]) -> tuple[bool, Any]:
        """Run one named query in a transaction that first wins the retention lock; return
        (won, its value): another runtime purging, (False, None)."""
        async with self._database.connection() as connection, connection.transaction():
            cursor = await connection.execute(
                self._database.sql("retention_elect"), {"schema": self._database.schema}
            )
            won = await cursor.fetchone()
            if won is None or not won[0]:
                return False, None
            cursor = await connection.execute(self._database.sql(name), params)
            row = await cursor.fetchone()
        return True, None if row is None else row[0]

    async def _queue_ids(self) -> list[int]:
        return [int(row[0]) for row in await self._database.fetch("retention_queue_ids")]

    @staticmethod
    def _params(queue_id: int, older_than: float, dead_letters: bool, batch_size: int) -> dict[str, Any]:
        return {
            "queue_id": queue_id,
            "older_than": older_than,
            "dead_letters": dead_letters,
            "limit": batch_size,
        }


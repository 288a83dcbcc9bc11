"""Housekeeping a running runtime does for everyone: removing the records of dead workers, and
the archive's retention.

A worker that died (kill -9, a lost machine) stops heartbeating; once its heartbeat is
STALE_HEARTBEATS intervals old and it holds no lease that has not expired, one elected process
(of all the runtimes on the schema) removes its record. Its expired leases were already free.
Every round also keeps the day partitions of a partitioned archive ready ahead and, with
`archive_retention` set, purges older archive records (pgqrs._async.retention: one runtime at a
time, in bounded batches).
"""

from __future__ import annotations

import logging

from pgqrs import errors
from pgqrs._async import _compat, retention, tables

logger = logging.getLogger("pgqrs.worker")
STALE_HEARTBEATS = 5


class Maintenance:
    """Runs the periodic housekeeping until `stop`."""

    def __init__(
        self,
        workers_table: tables.PgqrsWorkers,
        heartbeat_interval: float,
        archive: retention.Retention | None = None,
        archive_retention: float | None = None,
    ) -> None:
        self.workers_table = workers_table
        self.interval = heartbeat_interval
        self.stale_after = STALE_HEARTBEATS * heartbeat_interval
        self.reaped = 0
        self.purged = 0
        self.archive = archive
        self.archive_retention = archive_retention
        self._stopped = _compat.Event()

    def stop(self) -> None:
        """Stop at once."""
        self._stopped.set()

    async def run(self) -> None:
        """Every heartbeat interval until stopped: the archive's housekeeping, and reaping (until
        the role may not)."""
        reaping = True
        while not await _compat.wait_event(self._stopped, self.interval):
            if self.archive is not None:
                await self._keep_archive(self.archive)
            if reaping:
                reaping = await self._reap()

    async def _reap(self) -> bool:
        """Remove the dead workers' records; return False when this role may not."""
        try:
            removed = await self.workers_table.reap(self.stale_after)
        except errors.PermissionDenied:
            logger.info("not reaping dead workers: this role may not remove them")
            return False
        except errors.PgqrsError as error:
            logger.warning("reaping dead workers failed (%s)", error)
            return True
        if removed:
            self.reaped += removed
            logger.info("removed %d dead worker record(s)", removed)
        return True

    async def _keep_archive(self, archive: retention.Retention) -> None:
        """Prepare the coming days' partitions, and purge what archive_retention lets go."""
        try:
            await archive.partition_ahead()
            if self.archive_retention is not None:
                removed = await archive.apply(self.archive_retention, stopping=self._stopped.is_set)
                if removed:
                    self.purged += removed
                    logger.info("archive retention removed %d record(s)", removed)
        except errors.PermissionDenied:
            logger.info("no archive housekeeping: this role may not purge the archive or add partitions")
            self.archive = None
        except errors.PgqrsError as error:
            logger.warning("archive housekeeping failed (%s); trying again next round", error)

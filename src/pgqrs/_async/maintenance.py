"""Housekeeping a running runtime does for everyone: removing the records of dead workers and
the expired reservations of dedup keys.

A worker that died (kill -9, a lost machine) stops heartbeating; once its heartbeat is
STALE_HEARTBEATS intervals old and it holds no lease that has not expired, one elected process
(of all the runtimes on the schema) removes its record. Its expired leases were already free.
Expired dedup key reservations (see pgqrs.dedup_keys) hold nothing any more: every interval,
each runtime removes them in batches of PURGE_BATCH rows (SKIP LOCKED: runtimes never wait for
each other), at most MAX_PURGE_BATCHES per interval.
"""

from __future__ import annotations

import logging

from pgqrs import errors
from pgqrs._async import _compat, dedup_keys, tables

logger = logging.getLogger("pgqrs.worker")
STALE_HEARTBEATS = 5
MAX_PURGE_BATCHES = 100


class Maintenance:
    """Runs the periodic housekeeping until `stop`."""

    def __init__(
        self,
        workers_table: tables.PgqrsWorkers,
        heartbeat_interval: float,
        dedup_keys_table: dedup_keys.PgqrsDedupKeys | None = None,
    ) -> None:
        self.workers_table = workers_table
        self.dedup_keys_table = dedup_keys_table
        self.interval = heartbeat_interval
        self.stale_after = STALE_HEARTBEATS * heartbeat_interval
        self.reaped = 0
        self.purged = 0
        self._stopped = _compat.Event()
        self._reaping = True

    def stop(self) -> None:
        """Stop at once."""
        self._stopped.set()

    async def run(self) -> None:
        """Reap and purge every heartbeat interval until stopped (each until the role may not)."""
        while not await _compat.wait_event(self._stopped, self.interval):
            if self._reaping:
                await self.reap()
            if self.dedup_keys_table is not None:
                await self.purge()

    async def reap(self) -> None:
        """Remove the records of dead workers, if elected."""
        try:
            removed = await self.workers_table.reap(self.stale_after)
        except errors.PermissionDenied:
            logger.info("not reaping dead workers: this role may not remove them")
            self._reaping = False
            return
        except errors.PgqrsError as error:
            logger.warning("reaping dead workers failed (%s)", error)
            return
        if removed:
            self.reaped += removed
            logger.info("removed %d dead worker record(s)", removed)

    async def purge(self) -> None:
        """Remove expired dedup key reservations, a bounded batch per statement."""
        assert self.dedup_keys_table is not None
        for _batch in range(MAX_PURGE_BATCHES):
            try:
                removed = await self.dedup_keys_table.purge_expired(dedup_keys.PURGE_BATCH)
            except errors.PermissionDenied:
                logger.info("not purging expired dedup keys: this role may not remove them")
                self.dedup_keys_table = None
                return
            except errors.PgqrsError as error:
                logger.warning("purging expired dedup keys failed (%s)", error)
                return
            self.purged += removed
            if removed < dedup_keys.PURGE_BATCH or self._stopped.is_set():
                return

"""Housekeeping a running runtime does for everyone: removing the records of dead workers.

A worker that died (kill -9, a lost machine) stops heartbeating; once its heartbeat is
STALE_HEARTBEATS intervals old and it holds no lease that has not expired, one elected process
(of all the runtimes on the schema) removes its record. Its expired leases were already free.
"""

from __future__ import annotations

import logging

from pgqrs import errors
from pgqrs._async import _compat, tables

logger = logging.getLogger("pgqrs.worker")
STALE_HEARTBEATS = 5


class Maintenance:
    """Runs the periodic housekeeping until `stop`."""

    def __init__(self, workers_table: tables.PgqrsWorkers, heartbeat_interval: float) -> None:
        self.workers_table = workers_table
        self.interval = heartbeat_interval
        self.stale_after = STALE_HEARTBEATS * heartbeat_interval
        self.reaped = 0
        self._stopped = _compat.Event()

    def stop(self) -> None:
        """Stop at once."""
        self._stopped.set()

    async def run(self) -> None:
        """Reap every heartbeat interval until stopped (or until the role may not)."""
        while not await _compat.wait_event(self._stopped, self.interval):
            try:
                removed = await self.workers_table.reap(self.stale_after)
            except errors.PermissionDenied:
                logger.info("not reaping dead workers: this role may not remove them")
                return
            except errors.PgqrsError as error:
                logger.warning("reaping dead workers failed (%s)", error)
                continue
            if removed:
                self.reaped += removed
                logger.info("removed %d dead worker record(s)", removed)

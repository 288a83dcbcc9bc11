"""Keeping a worker alive: its leases renewed while handlers run, its heartbeat recorded.

Every third of the lock time, the leases of every message the worker has not settled (running,
or finished and waiting to be written) are renewed in one statement, to end one lock time from
then: a handler may run for any length of time without a second worker getting its message,
and if the process dies its messages come back one lock time after the last renewal.
"""

from __future__ import annotations

import logging
import time

from pgqrs import errors
from pgqrs._async import _compat, worker

logger = logging.getLogger("pgqrs.worker")
# The shortest pause between renewals, whatever the lock time.
_MINIMUM_PAUSE = 0.05


class LeaseKeeper:
    """Renews one worker's leases and records its heartbeat until `stop`."""

    def __init__(self, queue_worker: worker.QueueWorker, heartbeat_interval: float) -> None:
        self.worker = queue_worker
        self.heartbeat_interval = heartbeat_interval
        self.lost: set[int] = set()
        self._stopped = _compat.Event()

    def stop(self) -> None:
        """Stop after the current round (the runtime calls it once no handler runs)."""
        self._stopped.set()

    async def run(self) -> None:
        """Renew and heartbeat until stopped."""
        pause = max(_MINIMUM_PAUSE, min(self.worker.lock_time / 3, self.heartbeat_interval))
        last_heartbeat = time.monotonic()
        while not await _compat.wait_event(self._stopped, pause):
            try:
                await self.renew()
                if time.monotonic() - last_heartbeat >= self.heartbeat_interval:
                    await self.worker.consumer.heartbeat()
                    last_heartbeat = time.monotonic()
            except errors.PgqrsError as error:
                logger.warning("queue %s: renewing leases failed (%s)", self.worker.handler.queue, error)

    async def renew(self) -> None:
        """Renew the leases of every unsettled message, in one statement."""
        held = self.worker.held_ids()
        if not held:
            return
        answers = await self.worker.consumer.renew_leases(held, self.worker.lock_time)
        # A message whose result is being written may have been settled under the renewal: only
        # a running one, or one whose result waits to be written, has lost its lease.
        unsettled = set(self.worker.running_ids()) | set(self.worker.settler.waiting_ids())
        missed = {msg_id for msg_id, kept in zip(held, answers, strict=True) if not kept}
        lost = (missed & unsettled) - self.lost
        if lost:
            self.lost |= lost
            logger.warning(
                "queue %s: lease lost on message(s) %s while working on them; their results will not "
                "be recorded",
                self.worker.handler.queue,
                ", ".join(map(str, sorted(lost))),
            )

"""Settling finished messages in batches: the results of many handlers, one statement per kind.

Handlers hand their outcomes over as they finish; the settler writes whatever has gathered with
one statement per kind (archive, delete, retry, dead letter, release). While a batch is being
written the next one gathers, so under load results go out several at a time and at low load
each goes at once. A result not yet written when the process dies is lost only as a result: its
lease lapses and the message is delivered again (at least once, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pgqrs import errors, models, runtime
from pgqrs._async import _compat
from pgqrs._async import consumer as consumer_module

logger = logging.getLogger("pgqrs.worker")

# A failed write is tried again after these pauses (the results stay held and their leases
# kept meanwhile), then given up: the leases lapse and the messages come back. A lost
# connection (a server restarting, a failover) is tried again every last pause for as long as
# it lasts, until the runtime stops: the statement writes only while this worker still holds the
# message (its worker_id, whatever the lease's time), so a result written after an outage is the
# one delivery, unless another worker took the message meanwhile (then it is refused, not lost).
_RETRY_PAUSES = (0.1, 0.2, 0.5, 1.0, 1.0)
# While a lost connection lasts, a warning every this many failed writes (the first one always).
_WARN_EVERY = 30
Pending = tuple[models.QueueMessage, runtime.Outcome]


class Settler:
    """Gathers (message, outcome) pairs and writes them in batches."""

    def __init__(
        self,
        consumer: consumer_module.Consumer,
        queue: str,
        stats: runtime.RunStats,
        on_retry: Callable[[float], None] | None = None,
    ) -> None:
        """`on_retry(delay)` is told of each retry written (its worker looks again when it is due)."""
        self.consumer = consumer
        self.queue = queue
        self.stats = stats
        self.on_retry = on_retry
        self._pending: list[Pending] = []
        self._writing: list[Pending] = []
        self._state = _compat.ThreadLock()
        self._ready = _compat.Event()
        self._done = False

    def add(self, message: models.QueueMessage, outcome: runtime.Outcome) -> None:
        """Hand over a finished message (from a handler's task or thread)."""
        with self._state:
            self._pending.append((message, outcome))
        self._ready.set()

    def held_ids(self) -> list[int]:
        """Return the messages handed over and not yet settled (their leases must be kept)."""
        with self._state:
            return [message.id for message, _ in (*self._pending, *self._writing)]

    def waiting_ids(self) -> list[int]:
        """Return the messages handed over whose results are not being written yet."""
        with self._state:
            return [message.id for message, _ in self._pending]

    def idle(self) -> bool:
        """Return whether nothing is waiting to be written."""
        with self._state:
            return not self._pending and not self._writing

    async def run(self) -> None:
        """Write batches as results arrive, until `close` (which writes what is left)."""
        while not self._done:
            await _compat.wait_event(self._ready, 1.0)
            self._ready.clear()
            await self.flush()
        await self.flush()  # what was handed over while the last batch was written

    def close(self) -> None:
        """Ask `run` to write what is left and return."""
        self._done = True
        self._ready.set()

    async def flush(self) -> None:
        """Write everything handed over so far."""
        with self._state:
            batch, self._pending = self._pending, []
            self._writing = batch
        try:
            if batch:
                await self._write(batch)
        finally:
            with self._state:
                self._writing = []

    async def _write(self, batch: list[Pending]) -> None:
        for settlement in ("archive", "delete", "retry", "dead_letter", "release"):
            group = [(message, outcome) for message, outcome in batch if outcome.settlement == settlement]
            if group:
                await self._write_group(settlement, group)

    async def _write_group(self, settlement: runtime.Settlement, group: list[Pending]) -> None:
        failures = 0
        while True:
            try:
                answers = await self._statement(settlement, group)
            except errors.DatabaseError as error:
                failures += 1
                if not self._keep_trying(error, failures):
                    logger.error(
                        "queue %s: giving up writing %d %s result(s) (%s); their messages will be "
                        "delivered again after their leases",
                        self.queue,
                        len(group),
                        settlement,
                        error,
                    )
                    return
                if failures % _WARN_EVERY == 1:
                    logger.warning(
                        "queue %s: writing results failed (%s); trying again (%d failed so far)",
                        self.queue,
                        error,
                        failures,
                    )
                await _compat.sleep(_RETRY_PAUSES[min(failures, len(_RETRY_PAUSES)) - 1])
                continue
            self._count(settlement, group, answers)
            if settlement == "retry" and self.on_retry is not None:
                for delay in sorted({round(outcome.delay, 2) for _, outcome in group}):
                    self.on_retry(delay)
            return

    def _keep_trying(self, error: errors.DatabaseError, failures: int) -> bool:
        """Whether a failed write is tried again: a few times, and on while a lost connection
        lasts, except once the runtime is stopping (it must not wait on a server that is gone)."""
        if failures <= len(_RETRY_PAUSES):
            return True
        return error.connection_lost and not self._done

    async def _statement(self, settlement: runtime.Settlement, group: list[Pending]) -> list[bool]:
        ids = [message.id for message, _ in group]
        if settlement == "archive":
            return await self.consumer.archive_batch(ids)
        if settlement == "delete":
            return await self.consumer.delete_batch(ids)
        if settlement == "release":
            return await self.consumer.release_batch(ids)
        if settlement == "retry":
            return await self.consumer.retry_batch(
                [(message.id, outcome.delay, outcome.error) for message, outcome in group]
            )
        return await self.consumer.dead_letter_batch(
            [(message.id, outcome.reason or "dead letter", outcome.error) for message, outcome in group]
        )

    def _count(self, settlement: runtime.Settlement, group: list[Pending], answers: list[bool]) -> None:
        confirmed = sum(answers)
        with self._state:
            self.stats.count(self.queue, runtime.COUNTED_AS[settlement], confirmed)
        lost = [message.id for (message, _), answer in zip(group, answers, strict=True) if not answer]
        if lost:
            logger.warning(
                "queue %s: lease lost before the %s of message(s) %s; another worker had or will have them",
                self.queue,
                settlement,
                ", ".join(map(str, lost)),
            )

"""One handler's queue at work: lease up to the free slots, run the handler, hand on the outcome.

The fetch loop leases at most as many messages as the handler has free slots (one statement),
starts one handler invocation per message, and waits when the queue is empty: for a wake-up
(an enqueue's NOTIFY, through the listener), a freed slot, or `poll_interval`. Each finished
invocation hands its outcome to the settler, which writes results in batches; the lease keeper
renews the leases of every message not yet settled.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import time
from typing import Any

from pgqrs import _notify, _payload_types, errors, instrumentation, models, runtime
from pgqrs import config as config_module
from pgqrs._async import _compat, settler, tables
from pgqrs._async import consumer as consumer_module

logger = logging.getLogger("pgqrs.worker")
# Pending early looks kept at most (a retry storm does not grow the heap without bound).
_MOST_LOOKS = 1_000


@dataclasses.dataclass
class _Running:
    message: models.QueueMessage
    handle: Any = None
    abandoned: bool = False


class QueueWorker:
    """Works one handler's queue until the runtime stops it."""

    def __init__(
        self,
        handler: runtime.Handler,
        consumer: consumer_module.Consumer,
        config: config_module.Config,
        stats: runtime.RunStats,
        stopping: _compat.Signal,
    ) -> None:
        self.handler = handler
        self.consumer = consumer
        self.stats = stats
        self.lock_time = float(handler.lock_time or config.default_lock_time_seconds)
        self.allowed = handler.retry.attempts(config.max_read_count)
        self.poll_interval = config.poll_interval
        self._longest_pause = max(1.0, config.poll_interval)
        self._timeout = config.connection_timeout_seconds
        self.settler = settler.Settler(consumer, handler.queue, stats, self.look_after)
        self._stopping = stopping
        self._pool = _compat.HandlerPool(handler.concurrency, f"pgqrs-{handler.queue}")
        self._running: dict[int, _Running] = {}
        self._state = _compat.ThreadLock()
        self._slot_freed = _compat.Event()
        self._wake = _compat.Event()
        # When to look at the queue again before the poll interval (monotonic times, a heap):
        # after a notification (the throttle interval), when a retry written here is due.
        self._looks: list[float] = []

    @property
    def queue_id(self) -> int:
        """Return the id of the queue this worker works."""
        return self.consumer.queue_info.id

    def wake(self, notified: bool = False) -> None:
        """Look at the queue now (an enqueue was notified, or the runtime is stopping).

        After a notification the worker also looks again one throttle interval later: an
        enqueue within that interval was not notified (see pgqrs._notify).
        """
        if notified:
            self.look_after(_notify.THROTTLE_SECONDS)
        self._wake.set()
        self._slot_freed.set()

    def look_after(self, seconds: float) -> None:
        """Look at the queue again `seconds` from now, even if no wake-up comes (from any thread)."""
        with self._state:
            if len(self._looks) < _MOST_LOOKS:
                heapq.heappush(self._looks, time.monotonic() + seconds)
        # An idle wait in progress was timed before this look: wake it to time itself again.
        self._wake.set()

    def held_ids(self) -> list[int]:
        """Return every message this worker leased and has not settled (running or handed over)."""
        return self.running_ids() + self.settler.held_ids()

    def running_ids(self) -> list[int]:
        """Return the messages whose handlers are running."""
        with self._state:
            return list(self._running)

    def busy(self) -> int:
        """Return how many handler invocations are running."""
        with self._state:
            return len(self._running)

    def running_handles(self) -> list[Any]:
        """Return the handles of the running invocations."""
        with self._state:
            return [running.handle for running in self._running.values() if running.handle is not None]

    async def run(self) -> None:
        """Fetch and dispatch until the runtime stops."""
        failures = 0
        while not self._stopping.is_set():
            self._slot_freed.clear()
            free = self.handler.concurrency - self.busy()
            if free <= 0:
                await _compat.wait_event(self._slot_freed, self.poll_interval)
                continue
            self._wake.clear()
            try:
                messages = await self.consumer.dequeue_batch(free, self.lock_time)
            except errors.PgqrsError as error:
                failures += 1
                logger.warning("queue %s: dequeue failed (%s); trying again", self.handler.queue, error)
                # Back off, but never past what an idle worker waits anyway: when the server
                # comes back (a restart, a failover), work resumes within a poll interval.
                await _compat.wait_event(self._wake, min(self._longest_pause, 0.1 * 2**failures))
                continue
            failures = 0
            contexts = await self._trace_contexts(messages)
            for message in messages:
                self._start(message, contexts.get(message.id))
            if len(messages) < free:
                await self._idle()

    async def _idle(self) -> None:
        """Wait for a wake-up, the trailing look after a notification, or the poll interval."""
        now = time.monotonic()
        with self._state:
            while self._looks and self._looks[0] <= now:
                heapq.heappop(self._looks)
            wait = min(self.poll_interval, self._looks[0] - now) if self._looks else self.poll_interval
        await _compat.wait_event(self._wake, wait)

    async def _trace_contexts(self, messages: list[models.QueueMessage]) -> dict[int, str]:
        """Return the messages' stored trace contexts, when a hook wants them (one statement)."""
        if not messages or not instrumentation.wants_trace_context():
            return {}
        consumer = self.consumer
        table = tables.PgqrsMessages(consumer.pool, consumer.queue_info.schema, timeout=self._timeout)
        try:
            return await table.trace_contexts([message.id for message in messages])
        except errors.PgqrsError as error:  # the handlers still run, unlinked
            logger.warning("queue %s: trace contexts not read (%s)", self.handler.queue, error)
            return {}

    def _start(self, message: models.QueueMessage, trace_context: str | None = None) -> None:
        running = _Running(message)
        with self._state:
            self._running[message.id] = running
        running.handle = self._pool.submit(self._handle, message, trace_context)

    async def _handle(self, message: models.QueueMessage, trace_context: str | None = None) -> None:
        if self.handler.payload_type is not None:
            typed = self._typed(message)
            if typed is None:
                return
            message = typed
        with self._state:
            self.stats.count(self.handler.queue, "handled")
        observation = instrumentation.handle(self.handler.queue, message, trace_context)
        error: BaseException | None = None
        try:
            await self.handler.function(message)
        except _compat.Cancelled as cancelled:
            if observation is not None:
                observation.finish(runtime.Outcome("release"), cancelled)
            self._finish(message, runtime.Outcome("release"))
            raise
        except Exception as raised:
            error = raised
        handler = self.handler
        outcome = runtime.outcome_of(error, message.read_ct, self.allowed, handler.retry, handler.on_success)
        if observation is not None:
            observation.finish(outcome, error)
        if error is not None:
            self._log_failure(message, outcome)
        self._finish(message, outcome)

    def _typed(self, message: models.QueueMessage) -> models.QueueMessage | None:
        """Return the message with its payload decoded to the handler's type; a payload that does
        not validate would fail every retry, so it is dead-lettered now (None), never handled."""
        payload_type = self.handler.payload_type
        assert payload_type is not None
        try:
            return message.with_payload(_payload_types.decode(message.payload, payload_type))
        except errors.PayloadTypeError as invalid:
            outcome = runtime.Outcome("dead_letter", reason=str(invalid), error=str(invalid))
            logger.error("queue %s: message %d dead-lettered: %s", self.handler.queue, message.id, invalid)
            self._finish(message, outcome)
            return None

    def _log_failure(self, message: models.QueueMessage, outcome: runtime.Outcome) -> None:
        summary = (outcome.error or "").split("\n", 1)[0]
        if outcome.settlement == "retry" and outcome.error is None:  # Retry(delay): asked, not failed
            logger.info(
                "queue %s: message %d will be tried again in %gs, as its handler asked",
                self.handler.queue,
                message.id,
                outcome.delay,
            )
        elif outcome.settlement == "retry":
            logger.warning(
                "queue %s: message %d failed on attempt %d (%s); retrying in %.1fs",
                self.handler.queue,
                message.id,
                message.read_ct,
                summary,
                outcome.delay,
            )
        else:
            logger.error(
                "queue %s: message %d dead-lettered: %s", self.handler.queue, message.id, outcome.reason
            )

    def _finish(self, message: models.QueueMessage, outcome: runtime.Outcome) -> None:
        with self._state:
            running = self._running.pop(message.id, None)
        if running is not None and not running.abandoned:
            self.settler.add(message, outcome)
        self._slot_freed.set()

    def abandon_running(self) -> int:
        """Give up the handlers still running at shutdown; return how many.

        They could not be stopped (a thread cannot be; a task may ignore its cancellation), so
        their messages are not given back: another worker would run them while these still
        run. Their leases are no longer renewed and end at most one lock_time later, when the
        messages are delivered again; what the handlers return meanwhile is ignored.
        """
        with self._state:
            running = list(self._running.values())
            self._running.clear()
            for entry in running:
                entry.abandoned = True
        return len(running)

    def close(self) -> None:
        """Let the handler pool's threads end (the async pool holds none)."""
        self._pool.close()

"""Group commit for a Producer: concurrent single enqueues share one statement.

At most FLIGHTS enqueue statements of one producer run at a time. A call that finds a flight
free sends its message at once, alone (a caller alone never waits: no timer, no lingering).
A call that finds none queues; when a flight returns, the oldest queued call leads the next
one and carries every call queued by then (up to MAX_BATCH) in one statement. Each call gets
its own message back only after the statement that wrote it committed; when that statement
fails, every call in it raises the same error (an ambiguous outcome included).
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable
from typing import Any

from pgqrs import _decoding, errors, instrumentation, models
from pgqrs._async import _compat

# Statements in flight per producer. Measured with 64 tasks and 64 threads on a 2-core machine
# (docs/performance.md, "Many producers"): with 1, a batch waits for the previous commit; 2 and 4
# measured alike, and 2 holds fewer connections and makes larger batches.
FLIGHTS = 2
# A statement takes at most this many calls, and no more once its payloads reach this many bytes.
MAX_BATCH = 256
MAX_BATCH_BYTES = 1 << 20

_QUEUED, _PROMOTED, _FLYING, _DONE = range(4)


class Pending:
    """One call's message, checked already, waiting for a statement (or in one)."""

    __slots__ = ("batch", "error", "event", "observation", "params", "result", "state", "text")

    def __init__(
        self, text: str, params: dict[str, Any], observation: instrumentation.EnqueueObservation | None
    ) -> None:
        self.text = text
        self.params = params
        self.observation = observation
        self.event: _compat.Event | None = None
        self.state = _QUEUED
        self.batch: list[Pending] = []  # the calls it leads in one statement (it comes first)
        self.result: models.QueueMessage | None = None
        self.error: BaseException | None = None

    def outcome(self) -> models.QueueMessage:
        """Return this call's message, or raise the error of the statement that carried it."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class Coalescer:
    """Runs the enqueues of one producer, coalescing those that arrive while FLIGHTS are busy.

    `alone(text, params, observation)` writes one call's message as ever and returns it;
    `together(batch)` writes a batch in one statement and returns its messages in batch order.
    Both finish the calls' observations.
    """

    def __init__(
        self,
        alone: Callable[[str, dict[str, Any], Any], Any],
        together: Callable[[list[Pending]], Any],
        flights: int = FLIGHTS,
    ) -> None:
        self._alone = alone
        self._together = together
        self._flights = flights
        self._flights_free = flights
        self._waiting: deque[Pending] = deque()
        self._gathering = 0  # flights taken whose leader has not gathered its batch yet
        # Guards the queue and the count between threads (the sync twin); no-op on one loop.
        self._guard = _compat.ThreadLock()

    @property
    def flying(self) -> int:
        """How many flights are taken (the tests watch it)."""
        return self._flights - self._flights_free

    @property
    def queued(self) -> int:
        """How many calls wait for a flight (the tests watch it)."""
        return len(self._waiting)

    @property
    def gathering(self) -> int:
        """How many leaders are still to gather the calls they carry (the tests watch it)."""
        return self._gathering

    async def submit(
        self, text: str, params: dict[str, Any], observation: instrumentation.EnqueueObservation | None
    ) -> models.QueueMessage:
        """Write one call's message (alone, or with others queued meanwhile); return it."""
        with self._guard:
            alone = self._flights_free == self._flights
            if self._flights_free:
                self._flights_free -= 1  # nothing is queued while a flight is free
                self._gathering += not alone
                item = None
            else:
                item = Pending(text, params, observation)
                item.event = _compat.Event()
                self._waiting.append(item)
        if alone:
            # Nothing in flight: a caller alone, its own statement at once, nothing else to do.
            try:
                return await self._alone(text, params, observation)  # type: ignore[no-any-return]
            finally:
                self._release()
        if item is None:
            # A flight is free but another one flies: the calls it carries will be back in a
            # moment. Let them run first (one turn of the scheduler, no timer) and take along
            # those that queue meanwhile, rather than spend a flight on one message.
            item = Pending(text, params, observation)
            try:
                await _compat.sleep(0)
            except BaseException as error:
                with self._guard:
                    self._gathering -= 1
                self._abandon(item, error)
                raise
            with self._guard:
                self._gathering -= 1
                item.batch = self._take(item)
        else:
            await self._wait(item)
        if item.state != _DONE:
            await self._fly(item.batch)
        return item.outcome()

    def _take(self, leader: Pending) -> list[Pending]:
        """Return `leader` and the calls queued (up to MAX_BATCH), in call order (guard held)."""
        batch = [leader]
        size = len(leader.text)
        waiting = self._waiting
        while waiting and len(batch) < MAX_BATCH and size < MAX_BATCH_BYTES:
            item = waiting.popleft()
            item.state = _FLYING
            size += len(item.text)
            batch.append(item)
        return batch

    async def _wait(self, item: Pending) -> None:
        """Wait until `item` was written by another call's statement, or leads the next one."""
        assert item.event is not None
        try:
            await item.event.wait()
        except BaseException as error:
            self._abandon(item, error)
            raise

    def _abandon(self, item: Pending, error: BaseException) -> None:
        """The caller of `item` stopped waiting (cancelled): drop it, or pass its batch on."""
        with self._guard:
            state = item.state
            if state == _QUEUED and item.event is None:
                state = _PROMOTED  # it holds a flight, and has gathered nobody yet
            elif state == _QUEUED:
                self._waiting.remove(item)
            elif state == _PROMOTED:
                for other in reversed(item.batch[1:]):
                    other.state = _QUEUED
                    self._waiting.appendleft(other)
        if state == _PROMOTED:
            self._release()
        if state in (_QUEUED, _PROMOTED) and item.observation is not None:
            item.observation.finish(error)  # never sent: nothing was written

    async def _fly(self, batch: list[Pending]) -> None:
        """Write `batch` (its first call leads) in one statement; hand out the results."""
        try:
            messages = await self._together(batch)
            for item, message in zip(batch, messages, strict=True):
                item.result = message
        except Exception as error:
            for item in batch:
                item.error = error
        except BaseException:
            # The leader was cancelled or interrupted mid-statement: it re-raises its own
            # error; the others cannot know whether the statement committed.
            unknown = errors.OutcomeUnknown(
                "the enqueue statement this call shared with others was interrupted (its leading "
                "call was cancelled): the message may or may not have been written"
            )
            for item in batch[1:]:
                item.error = unknown
            raise
        finally:
            self._land(batch)  # whatever happened, no call of the batch waits for ever

    def _land(self, batch: list[Pending]) -> None:
        """The statement of `batch` ended: pass its flight on (or free it), wake its callers."""
        self._release()
        for item in batch:
            item.state = _DONE
            if item.event is not None:
                item.event.set()

    def _release(self) -> None:
        """Give a flight to the calls queued (up to MAX_BATCH), the oldest leading; or free it.

        The batch is made here, at once: a second flight landing before its leader runs finds
        nothing queued, so the calls queued together go out together, in call order.
        """
        with self._guard:
            waiting = self._waiting
            if not waiting:
                self._flights_free += 1
                return
            successor = waiting.popleft()
            successor.batch = self._take(successor)
            successor.state = _PROMOTED
        assert successor.event is not None
        successor.event.set()


def statement_params(batch: list[Pending], queue_id: int) -> dict[str, Any]:
    """Return the parameters of message_enqueue_each for `batch`: a column per argument."""
    return {
        "queue_id": queue_id,
        "payloads": [item.text for item in batch],
        "delays": [item.params["delay"] for item in batch],
        "ats": [item.params["at"] for item in batch],
        "priorities": [item.params["priority"] for item in batch],
        "trace_contexts": [
            None if item.observation is None else item.observation.trace_context for item in batch
        ],
    }


def messages(batch: list[Pending], rows: list[tuple[Any, ...]], queue_id: int) -> list[models.QueueMessage]:
    """Return the messages of `batch` from the (id, enqueued_at, vt) rows its statement returned."""
    # Ids are assigned in batch order; RETURNING's order is not promised, so sort by id.
    rows = sorted(rows, key=operator.itemgetter(0))
    payloads = _decoding.stored([item.text for item in batch])
    return [
        models.QueueMessage(
            msg_id, queue_id, payload, enqueued_at, vt, 0, None, None, None, item.params["priority"]
        )
        for (msg_id, enqueued_at, vt), payload, item in zip(rows, payloads, batch, strict=True)
    ]

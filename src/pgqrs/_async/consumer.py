"""Consumer: leases messages from one queue and acknowledges them."""

from __future__ import annotations

import logging
import os
import socket
import time
import types
from collections.abc import Iterable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from pgqrs import _validation, errors, models
from pgqrs import config as config_module
from pgqrs._async import _compat, _database, producer, tables

logger = logging.getLogger("pgqrs.consumer")

# Poison messages buried by a dequeue take candidate slots; try again so a dequeue does not
# come back empty while deliverable messages wait behind them.
_DEQUEUE_ATTEMPTS = 3
_FOREIGN_KEY_VIOLATION = "23503"
# Longest error (a traceback) and dead-letter reason kept, in characters.
ERROR_LIMIT = 8_000
REASON_LIMIT = 1_000


class Consumer:
    """Takes messages from one queue under a lease (visibility timeout) and acknowledges them.

    The consumer registers itself in pgqrs_workers on first use; its leases carry that worker
    id, and `delete`, `archive` and `extend_visibility` succeed only for the lease holder: a
    consumer whose lease expired and was taken over gets False and changes nothing. One
    consumer may be shared by many tasks (threads, in the blocking API): it registers once.
    Every call proves it alive: when the config's heartbeat_interval have passed since
    the last heartbeat, the call records one first (one extra statement, at most that often).

    Args:
        pool: The connection pool (``admin.pool``).
        queue_info: The queue, from ``admin.get_queue``; its schema is used.
        config: Defaults (lock time, batch size, max_read_count, connection_timeout_seconds);
            the library defaults and the pool's timeout when omitted.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        queue_info: models.QueueInfo,
        config: config_module.Config | None = None,
    ) -> None:
        self.pool = pool
        self.queue_info = queue_info
        self.config = producer.settings_for(queue_info, config)
        timeout = producer.timeout_of(config)
        self._database = _database.Database(pool, queue_info.schema, timeout)
        self._workers = tables.PgqrsWorkers(pool, queue_info.schema, timeout=timeout)
        self._worker: models.WorkerInfo | None = None
        self._last_heartbeat = 0.0
        self._registering = _compat.Lock()
        # Set once this consumer leased a message with a dedup key: from then on its
        # acknowledgements reserve keys (the *_keyed statements); until then they run the
        # plain statements, so queues without keys pay nothing for the dedup window.
        self._keyed = False

    @property
    def worker_id(self) -> int | None:
        """Return this consumer's worker id, or None before it registered."""
        return None if self._worker is None else self._worker.id

    async def register(self) -> models.WorkerInfo:
        """Register this consumer in pgqrs_workers (done on first dequeue) and return the record."""
        async with self._registering:
            if self._worker is None:
                new = models.NewWorker(self.queue_info.id, socket.gethostname(), os.getpid())
                self._worker = await self._workers.insert(new)
                self._last_heartbeat = time.monotonic()
            return self._worker

    async def dequeue(self, lock_time: Any = None) -> models.QueueMessage | None:
        """Lease the next visible message for `lock_time` (default_lock_time_seconds); None if none."""
        messages = await self.dequeue_batch(1, lock_time)
        return messages[0] if messages else None

    async def dequeue_batch(
        self, size: int | None = None, lock_time: Any = None, message_type: str | None = None
    ) -> list[models.QueueMessage]:
        """Lease up to `size` visible messages (default_max_batch_size) in visibility order.

        Each message's read_ct grows by one and its vt becomes now() + lock_time (database
        clock). A message already delivered max_read_count times is moved to the archive as a
        dead letter instead of being delivered again. With `message_type`, only payloads whose
        top-level "type" equals it are leased (others are passed over, untouched).
        """
        limit = _validation.positive_int(self.config.default_max_batch_size if size is None else size, "size")
        seconds = _validation.seconds(
            self.config.default_lock_time_seconds if lock_time is None else lock_time, "lock_time"
        )
        worker = await self._ensure_worker()
        params: dict[str, Any] = {
            "queue_id": self.queue_info.id,
            "limit": limit,
            # Seconds into make_interval(secs): elapsed time. A timedelta would go as 'N days',
            # which timestamptz + interval adds as calendar days in the session's time zone (23
            # or 25 hours across a DST change); rint(secs * 1e6) keeps the microseconds exact.
            "lock_time": seconds,
            "worker_id": worker,
            "message_type": message_type,
        }
        for _attempt in range(_DEQUEUE_ATTEMPTS):
            rows = await self._lease(params)
            leased, poisoned = self._sort_leases(rows, params["worker_id"])
            if not poisoned:
                return leased
            await self._bury(poisoned)
            if leased:
                return leased
        return []

    async def _lease(self, params: dict[str, Any]) -> list[_database.Row]:
        """Run the dequeue; if this consumer's worker record was removed, register again first."""
        try:
            return await self._database.fetch("message_dequeue", params)
        except errors.DatabaseError as error:
            if error.sqlstate != _FOREIGN_KEY_VIOLATION:
                raise
        # Removed (by an operator, or as stale while idle): the leases it held were released
        # to nobody (ON DELETE SET NULL), so a new registration loses nothing.
        await self._register_again(params["worker_id"])
        params["worker_id"] = await self._ensure_worker()
        return await self._database.fetch("message_dequeue", params)

    def _sort_leases(
        self, rows: list[_database.Row], worker: int
    ) -> tuple[list[models.QueueMessage], list[int]]:
        """Split dequeued rows into messages to deliver and poison message ids (over max_read_count)."""
        queue_id = self.queue_info.id
        limit = self.config.max_read_count
        leased: list[models.QueueMessage] = []
        poisoned: list[int] = []
        for msg_id, payload, enqueued_at, vt, read_ct, dequeued_at, last_error, priority, key in rows:
            if key is not None:
                self._keyed = True
            if limit and read_ct > limit:
                poisoned.append(msg_id)
            else:
                message = models.QueueMessage(
                    msg_id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker, last_error,
                    priority, key,
                )  # fmt: skip
                leased.append(message)
        return leased, poisoned

    async def _bury(self, msg_ids: list[int]) -> None:
        """Move poison messages this consumer just leased to the archive, with their reason."""
        params = {**self._holder(), "ids": msg_ids, "max_read_count": self.config.max_read_count}
        buried = await self._database.fetch(self._keyed_name("message_bury"), params)
        logger.warning(
            "queue %s: %d poison message(s) moved to the archive", self.queue_info.queue_name, len(buried)
        )

    async def delete(self, msg_id: int) -> bool:
        """Delete a message this consumer holds; False if it does not hold it (or it is gone)."""
        checked = _validation.message_id(msg_id)
        if self._worker is None:
            return False  # never dequeued, so it holds no lease
        if self._keyed:
            return (await self.delete_batch([checked]))[0]
        await self._keep_alive()
        return bool(await self._database.fetch("message_delete_owned_one", {**self._holder(), "id": checked}))

    async def delete_batch(self, msg_ids: Iterable[int]) -> list[bool]:
        """Delete the held messages among `msg_ids`; one bool per input position, in input order
        (an id given twice is True once)."""
        ids = _validation.message_ids(msg_ids)
        return await self._acknowledge(self._keyed_name("message_delete_owned"), ids)

    async def archive(self, msg_id: int) -> bool:
        """Move a message this consumer holds to the archive; False if it does not hold it."""
        return (await self.archive_batch([msg_id]))[0]

    async def archive_batch(self, msg_ids: Iterable[int]) -> list[bool]:
        """Archive the held messages among `msg_ids` in one statement; one bool per input position."""
        return await self._acknowledge(self._keyed_name("archive_move"), _validation.message_ids(msg_ids))

    async def release(self, msg_id: int, delay: Any = 0, count_delivery: bool = False) -> bool:
        """Give a held message back: visible again after `delay` (timedelta or seconds; 0: at once).

        Args:
            msg_id: The message.
            delay: When it becomes visible again (database clock).
            count_delivery: True when this delivery counts towards max_read_count (a retry:
                the message was tried); False gives it back untried (read_ct restored).

        Returns:
            False if this consumer does not hold it.
        """
        return (await self.release_batch([msg_id], delay, count_delivery))[0]

    async def release_batch(
        self, msg_ids: Iterable[int], delay: Any = 0, count_delivery: bool = False
    ) -> list[bool]:
        """Give held messages back (see `release`), e.g. on shutdown; one bool per input position."""
        extra = {"delay": _validation.seconds(delay, "delay"), "count_delivery": bool(count_delivery)}
        return await self._acknowledge("message_release_owned", _validation.message_ids(msg_ids), extra)

    async def renew_leases(self, msg_ids: Iterable[int], lock_time: Any) -> list[bool]:
        """Make this consumer's leases on `msg_ids` end `lock_time` from now (database clock), in
        one statement; False for a message it no longer holds (what the worker runtime calls
        while handlers run)."""
        extra = {"lock_time": _validation.seconds(lock_time, "lock_time")}
        return await self._acknowledge("message_renew_owned", _validation.message_ids(msg_ids), extra)

    async def retry(self, msg_id: int, delay: Any, error: str | None = None) -> bool:
        """Give back a held message whose attempt failed: visible again after `delay`, the
        delivery counted towards max_read_count, `error` kept as its `last_error`."""
        return (await self.retry_batch([(msg_id, delay, error)]))[0]

    async def retry_batch(self, failures: Iterable[tuple[int, Any, str | None]]) -> list[bool]:
        """`retry` for many messages, each with its own delay and error, in one statement."""
        items = list(failures)
        ids = _validation.message_ids(item[0] for item in items)
        extra = {
            "delays": [_validation.seconds(item[1], "delay") for item in items],
            "errors": [_validation.error_text(item[2], ERROR_LIMIT) for item in items],
        }
        return await self._acknowledge("message_retry", ids, extra)

    async def dead_letter(self, msg_id: int, reason: str, error: str | None = None) -> bool:
        """Move a held message to the archive as a dead letter with `reason` (and `error`)."""
        return (await self.dead_letter_batch([(msg_id, reason, error)]))[0]

    async def dead_letter_batch(self, failures: Iterable[tuple[int, str, str | None]]) -> list[bool]:
        """`dead_letter` for many messages, each with its own reason and error, in one statement."""
        items = list(failures)
        ids = _validation.message_ids(item[0] for item in items)
        extra = {
            "reasons": [_validation.error_text(item[1], REASON_LIMIT) for item in items],
            "errors": [_validation.error_text(item[2], ERROR_LIMIT) for item in items],
        }
        return await self._acknowledge(self._keyed_name("message_dead_letter"), ids, extra)

    async def extend_visibility(self, msg_id: int, duration: Any) -> bool:
        """Extend this consumer's lease on a message by `duration`; False if it does not hold it."""
        return (await self.extend_visibility_batch([msg_id], duration))[0]

    async def extend_visibility_batch(self, msg_ids: Iterable[int], duration: Any) -> list[bool]:
        """Extend this consumer's leases on `msg_ids` by `duration` in one statement."""
        extra = {"duration": _validation.seconds(duration, "duration")}
        return await self._acknowledge("message_extend_owned", _validation.message_ids(msg_ids), extra)

    async def heartbeat(self) -> None:
        """Record (database time) that this consumer is alive (calls do it by themselves when due)."""
        worker = self._worker
        if worker is not None and not await self._workers.heartbeat(worker.id):
            # Removed as stale while alive: register again rather than work unregistered.
            await self._register_again(worker.id)
            await self.register()
        self._last_heartbeat = time.monotonic()

    async def close(self) -> None:
        """Mark this consumer's worker record stopped. The pool is not closed (the admin owns it)."""
        if self._worker is not None:
            await self._workers.mark_stopped(self._worker.id)

    async def __aenter__(self) -> Consumer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    async def _ensure_worker(self) -> int:
        """Return this consumer's worker id, registering (or heartbeating, when due) first."""
        if self._worker is not None:
            await self._keep_alive()  # registers again if the record was removed
        worker = self._worker
        return worker.id if worker is not None else (await self.register()).id

    async def _keep_alive(self) -> None:
        if time.monotonic() - self._last_heartbeat >= self.config.heartbeat_interval:
            await self.heartbeat()

    async def _register_again(self, removed_id: int) -> None:
        """Forget the worker record `removed_id` (gone from the table); the next call registers."""
        async with self._registering:
            if self._worker is not None and self._worker.id == removed_id:
                logger.warning(
                    "queue %s: worker %d was removed; registering again",
                    self.queue_info.queue_name,
                    removed_id,
                )
                self._worker = None

    def _keyed_name(self, name: str) -> str:
        """Return the statement that ends messages' lives: its keyed twin once keys were leased."""
        return f"{name}_keyed" if self._keyed else name

    def _holder(self) -> dict[str, Any]:
        """Return the parameters every lease-holder statement checks: this worker (and its queue)."""
        assert self._worker is not None
        return {"queue_id": self.queue_info.id, "worker_id": self._worker.id}

    async def _acknowledge(
        self, name: str, ids: list[int], extra: dict[str, Any] | None = None
    ) -> list[bool]:
        """Run an ownership-checked statement on `ids`; True at the first position of each id it
        changed, False elsewhere (not held, gone, or a repeat)."""
        if not ids:
            return []
        if self._worker is None:
            return [False] * len(ids)  # never dequeued, so it holds no lease
        await self._keep_alive()
        params: dict[str, Any] = {**self._holder(), "ids": ids, **(extra or {})}
        done = {row[0] for row in await self._database.fetch(name, params)}
        answers = []
        for msg_id in ids:
            answers.append(msg_id in done)
            done.discard(msg_id)
        return answers

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

from pgqrs import _validation, models
from pgqrs import config as config_module
from pgqrs._async import _database, producer, tables

logger = logging.getLogger("pgqrs.consumer")

HEARTBEAT_INTERVAL_SECONDS = 30.0
# Poison messages buried by a dequeue take candidate slots; try again so a dequeue does not
# come back empty while deliverable messages wait behind them.
_DEQUEUE_ATTEMPTS = 3


class Consumer:
    """Takes messages from one queue under a lease (visibility timeout) and acknowledges them.

    The consumer registers itself in pgqrs_workers on first use; its leases carry that worker
    id, and `delete`, `archive` and `extend_visibility` succeed only for the lease holder: a
    consumer whose lease expired and was taken over gets False and changes nothing.

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

    @property
    def worker_id(self) -> int | None:
        """Return this consumer's worker id, or None before it registered."""
        return None if self._worker is None else self._worker.id

    async def register(self) -> models.WorkerInfo:
        """Register this consumer in pgqrs_workers (done on first dequeue) and return the record."""
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
        params = {
            "queue_id": self.queue_info.id,
            "limit": limit,
            # Seconds into make_interval(secs): elapsed time. A timedelta would go as 'N days',
            # which timestamptz + interval adds as calendar days in the session's time zone (23
            # or 25 hours across a DST change); rint(secs * 1e6) keeps the microseconds exact.
            "lock_time": seconds,
            "worker_id": worker,
            "message_type": message_type,
        }
        query = "message_dequeue_one" if limit == 1 else "message_dequeue"
        for _attempt in range(_DEQUEUE_ATTEMPTS):
            rows = await self._database.fetch(query, params)
            leased, poisoned = self._sort_leases(rows, worker)
            if not poisoned:
                return leased
            await self._bury(poisoned)
            if leased:
                return leased
        return []

    def _sort_leases(
        self, rows: list[_database.Row], worker: int
    ) -> tuple[list[models.QueueMessage], list[int]]:
        """Split dequeued rows into messages to deliver and poison message ids (over max_read_count)."""
        queue_id = self.queue_info.id
        limit = self.config.max_read_count
        leased: list[models.QueueMessage] = []
        poisoned: list[int] = []
        for msg_id, payload, enqueued_at, vt, read_ct, dequeued_at in rows:
            if limit and read_ct > limit:
                poisoned.append(msg_id)
            else:
                leased.append(
                    models.QueueMessage(
                        msg_id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker
                    )
                )
        return leased, poisoned

    async def _bury(self, msg_ids: list[int]) -> None:
        """Move poison messages this consumer just leased to the archive, with their reason."""
        params = {**self._holder(), "ids": msg_ids, "max_read_count": self.config.max_read_count}
        buried = await self._database.fetch("message_bury", params)
        logger.warning(
            "queue %s: %d poison message(s) moved to the archive", self.queue_info.queue_name, len(buried)
        )

    async def delete(self, msg_id: int) -> bool:
        """Delete a message this consumer holds; False if it does not hold it (or it is gone)."""
        checked = _validation.message_id(msg_id)
        if self._worker is None:
            return False  # never dequeued, so it holds no lease
        return bool(await self._database.fetch("message_delete_owned_one", {**self._holder(), "id": checked}))

    async def delete_batch(self, msg_ids: Iterable[int]) -> list[bool]:
        """Delete the held messages among `msg_ids`; one bool per input id, in input order."""
        return await self._acknowledge("message_delete_owned", _validation.message_ids(msg_ids))

    async def archive(self, msg_id: int) -> bool:
        """Move a message this consumer holds to the archive; False if it does not hold it."""
        return (await self.archive_batch([msg_id]))[0]

    async def archive_batch(self, msg_ids: Iterable[int]) -> list[bool]:
        """Archive the held messages among `msg_ids` in one statement; one bool per input id."""
        return await self._acknowledge("archive_move", _validation.message_ids(msg_ids))

    async def release(self, msg_id: int) -> bool:
        """Give a held message back unprocessed (visible at once, read_ct restored); False if not held."""
        return (await self.release_batch([msg_id]))[0]

    async def release_batch(self, msg_ids: Iterable[int]) -> list[bool]:
        """Give held messages back unprocessed, e.g. on shutdown; one bool per input id."""
        return await self._acknowledge("message_release_owned", _validation.message_ids(msg_ids))

    async def extend_visibility(self, msg_id: int, duration: Any) -> bool:
        """Extend this consumer's lease on a message by `duration`; False if it does not hold it."""
        seconds = _validation.seconds(duration, "duration")
        return (await self._acknowledge("message_extend_owned", [_validation.message_id(msg_id)], seconds))[0]

    async def heartbeat(self) -> None:
        """Record (database time) that this consumer is alive; dequeue does it every 30 s."""
        if self._worker is not None and not await self._workers.heartbeat(self._worker.id):
            # Removed as stale while alive: register again rather than work unregistered.
            self._worker = None
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
        if self._worker is None:
            await self.register()
        elif time.monotonic() - self._last_heartbeat >= HEARTBEAT_INTERVAL_SECONDS:
            await self.heartbeat()
        assert self._worker is not None
        return self._worker.id

    def _holder(self) -> dict[str, Any]:
        """Return the parameters every lease-holder statement checks: this queue, this worker."""
        assert self._worker is not None
        return {"queue_id": self.queue_info.id, "worker_id": self._worker.id}

    async def _acknowledge(self, name: str, ids: list[int], duration: float | None = None) -> list[bool]:
        if not ids:
            return []
        if self._worker is None:
            return [False] * len(ids)  # never dequeued, so it holds no lease
        params: dict[str, Any] = {**self._holder(), "ids": ids}
        if duration is not None:
            params["duration"] = duration
        done = {row[0] for row in await self._database.fetch(name, params)}
        return [msg_id in done for msg_id in ids]

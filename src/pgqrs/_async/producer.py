"""Producer: puts messages on one queue."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from pgqrs import _rate, _validation, errors, instrumentation, models
from pgqrs import config as config_module
from pgqrs._async import _compat, _database

_FOREIGN_KEY_VIOLATION = "23503"


# Producer and Consumer built without a config use the library's defaults. A Config needs a DSN,
# and theirs is never used (their pool connects); libpq's empty URI says so.
_DEFAULTS_DSN = "postgresql://"


def settings_for(queue_info: models.QueueInfo, config: config_module.Config | None) -> config_module.Config:
    """Return `config`, or the library's default settings for the queue's schema when none is given.

    Never rebuilt from the pool: a pool made from keyword arguments has no DSN string, and a
    pool's own settings (its timeout) are not pgqrs settings.
    """
    if config is None:
        return config_module.Config(dsn=_DEFAULTS_DSN, schema=queue_info.schema)
    return config


def timeout_of(config: config_module.Config | None) -> float | None:
    """Return the call timeout a caller's config asks for, or None to keep the pool's own."""
    return None if config is None else config.connection_timeout_seconds


class Producer:
    """Enqueues JSON messages on one queue.

    Args:
        pool: The connection pool (``admin.pool``).
        queue_info: The queue, from ``admin.create_queue`` / ``admin.get_queue``; its schema is used.
        config: Limits (max_payload_bytes, producer_rate_limit, connection_timeout_seconds);
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
        self.config = settings_for(queue_info, config)
        self._database = _database.Database(pool, queue_info.schema, timeout_of(config))
        rate = self.config.producer_rate_limit
        self._limiter = _rate.RateLimiter(rate) if rate else None
        self._limiter_lock = _compat.Lock()

    async def enqueue(self, payload: Any) -> models.QueueMessage:
        """Add one message, visible at once.

        Raises:
            ValidationError: The payload is not JSON PostgreSQL accepts, or is too large.
            QueueNotFound: The queue was deleted.
        """
        return await self.enqueue_delayed(payload, 0)

    async def enqueue_delayed(self, payload: Any, delay: Any) -> models.QueueMessage:
        """Add one message that becomes visible after `delay` (timedelta or seconds)."""
        params = {
            "queue_id": self.queue_info.id,
            "payload": _validation.encode_payload(payload, self.config.max_payload_bytes),
            "delay": _validation.seconds(delay, "delay"),
        }
        await self._pace(1)
        rows = await self._insert("message_enqueue_assigned", params, 1)
        msg_id, enqueued_at, vt = rows[0]
        return models.QueueMessage(msg_id, self.queue_info.id, payload, enqueued_at, vt, 0, None, None)

    async def batch_enqueue(self, payloads: Iterable[Any], delay: Any = 0) -> list[models.QueueMessage]:
        """Add many messages in one statement: all or none, returned in input order.

        Raises:
            ValidationError: Any payload is invalid (naming its position); nothing is written.
        """
        items = _validation.payload_list(payloads)
        encoded = _validation.encode_payloads(items, self.config.max_payload_bytes)
        seconds = _validation.seconds(delay, "delay")
        if not encoded:
            return []
        await self._pace(len(encoded))
        params = {"queue_id": self.queue_info.id, "payloads": encoded, "delay": seconds}
        rows = await self._insert("message_enqueue_batch", params, len(encoded))
        # Ids are assigned in input order; RETURNING's order is not promised, so sort by id.
        rows.sort(key=operator.itemgetter(0))
        queue_id = self.queue_info.id
        return [
            models.QueueMessage(msg_id, queue_id, payload, enqueued_at, vt, 0, None, None)
            for (msg_id, enqueued_at, vt), payload in zip(rows, items, strict=True)
        ]

    async def extend_visibility(self, msg_id: int, duration: Any) -> bool:
        """Postpone a message of this queue by `duration`, whoever holds it; False if it is gone."""
        params = {
            "ids": [_validation.message_id(msg_id)],
            "queue_id": self.queue_info.id,
            "duration": _validation.seconds(duration, "duration"),
        }
        return bool(await self._database.fetch("message_extend", params))

    async def _insert(self, name: str, params: dict[str, Any], count: int) -> list[tuple[Any, ...]]:
        observation = instrumentation.enqueue(self.queue_info.queue_name, count)
        params["trace_context"] = None if observation is None else observation.trace_context
        try:
            rows = await self._database.fetch(name, params)
        except BaseException as error:
            if observation is not None:
                observation.finish(error)
            if isinstance(error, errors.DatabaseError) and error.sqlstate == _FOREIGN_KEY_VIOLATION:
                raise errors.QueueNotFound(self.queue_info.queue_name) from None
            raise
        if observation is not None:
            observation.finish(None)
        return rows

    async def _pace(self, count: int) -> None:
        if self._limiter is None:
            return
        async with self._limiter_lock:
            wait = self._limiter.reserve(count)
        if wait > 0:
            await _compat.sleep(wait)

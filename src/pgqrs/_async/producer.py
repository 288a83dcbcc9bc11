"""Producer: puts messages on one queue, on its pool or in the caller's own transaction."""

from __future__ import annotations

import datetime
import operator
from collections.abc import Iterable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from pgqrs import _caller, _decoding, _notify, _rate, _validation, errors, instrumentation, models
from pgqrs import config as config_module
from pgqrs._async import _coalesce, _compat, _database

_FOREIGN_KEY_VIOLATION = "23503"
# A key whose live message was acknowledged (with no dedup window) between the keyed enqueue's
# unique check and its answer is neither written nor answered: the next call writes it.
_KEYED_ATTEMPTS = 5
Keys = list[str | None] | None
Messages = list[models.QueueMessage]
# The observations of the calls a statement writes; None: the statement starts its own.
Seen = list[instrumentation.EnqueueObservation | None] | None
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
    """Enqueues JSON messages (or dataclasses, pydantic models, msgspec Structs) on one queue.

    Every enqueue method takes `connection=`: a psycopg AsyncConnection (or a SQLAlchemy
    AsyncSession / AsyncConnection on psycopg) whose transaction the message joins: it exists,
    and wakes workers, only if that transaction commits (the outbox pattern). pgqrs never commits,
    rolls back or changes that connection. Without it, each call commits on its own.

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
        self._wake = _notify.wake_payload(queue_info.schema, queue_info.id)
        rate = self.config.producer_rate_limit
        self._limiter = _rate.RateLimiter(rate) if rate else None
        self._limiter_lock = _compat.Lock()
        self._coalescer = _coalesce.Coalescer(self._alone, self._together)
        # Whether the queue has a dedup window: keyed enqueues then run pgqrs_enqueue_keyed,
        # which closes the race with acknowledgements that reserve keys (a function: slower);
        # without one, the single statement. Learnt again from every keyed enqueue's answer.
        self._windowed = queue_info.dedup_window > datetime.timedelta(0)

    async def enqueue(
        self, payload: Any, *, priority: int = 0, dedup_key: str | None = None, connection: Any = None
    ) -> models.QueueMessage:
        """Add one message, visible at once.

        Args:
            payload: A JSON value, or a dataclass / pydantic model / msgspec Struct (stored as JSON).
            priority: 0..100; higher is leased first (then visibility order).
            dedup_key: At most one live (unacknowledged) message per queue and key: when one
                exists, nothing is written and that message is returned. Within the queue's
                dedup_window after that message was acknowledged, nothing is written either and
                its id comes back (with `acknowledged_at` set).
            connection: The caller's connection, whose transaction the enqueue joins.

        Returns:
            The message as a dequeue would return it (the payload as stored JSON).

        Raises:
            ValidationError: The payload is not JSON PostgreSQL accepts, or is too large; a bad
                argument. Raised before any SQL.
            QueueNotFound: The queue was deleted.
        """
        return await self._one(payload, 0, None, priority, dedup_key, connection)

    async def enqueue_delayed(
        self,
        payload: Any,
        delay: Any,
        *,
        priority: int = 0,
        dedup_key: str | None = None,
        connection: Any = None,
    ) -> models.QueueMessage:
        """Add one message that becomes visible after `delay` (timedelta or seconds; see `enqueue`)."""
        return await self._one(payload, delay, None, priority, dedup_key, connection)

    async def enqueue_at(
        self,
        payload: Any,
        when: datetime.datetime,
        *,
        priority: int = 0,
        dedup_key: str | None = None,
        connection: Any = None,
    ) -> models.QueueMessage:
        """Add one message that becomes visible at `when`, a time zone aware datetime (a time in
        the past: at once, ahead of messages due later); see `enqueue`."""
        return await self._one(payload, 0, when, priority, dedup_key, connection)

    async def batch_enqueue(
        self,
        payloads: Iterable[Any],
        delay: Any = 0,
        *,
        at: datetime.datetime | None = None,
        priority: int = 0,
        dedup_keys: Iterable[str | None] | None = None,
        connection: Any = None,
    ) -> list[models.QueueMessage]:
        """Add many messages in one statement: all or none, returned in input order.

        `delay` or `at` and `priority` apply to every message; `dedup_keys` gives each its key
        (None: no key), as for `enqueue`; a key given twice in the batch is written once.

        Raises:
            ValidationError: Any payload or key is invalid (naming its position); nothing is written.
        """
        items = _validation.payload_list(payloads)
        texts = _validation.encode_payloads(items, self.config.max_payload_bytes)
        keys = _validation.dedup_keys(dedup_keys, len(texts))
        params = self._params(delay, at, priority)
        if not texts:
            return []
        return await self._write(texts, keys, params, connection)

    async def extend_visibility(self, msg_id: int, duration: Any) -> bool:
        """Postpone a message of this queue by `duration`, whoever holds it; False if it is gone."""
        params = {
            "ids": [_validation.message_id(msg_id)],
            "queue_id": self.queue_info.id,
            "duration": _validation.seconds(duration, "duration"),
        }
        return bool(await self._database.fetch("message_extend", params))

    def _params(self, delay: Any, at: Any, priority: int) -> dict[str, Any]:
        """Return the parameters every enqueue statement takes, checked."""
        seconds, when = _validation.visibility(delay, at)
        return {
            "queue_id": self.queue_info.id,
            "delay": seconds,
            "at": when,
            "priority": _validation.priority(priority),
        }

    async def _one(
        self, payload: Any, delay: Any, at: Any, priority: int, key: str | None, connection: Any
    ) -> models.QueueMessage:
        text = _validation.encode_payload(payload, self.config.max_payload_bytes)
        keys = None if key is None else [_validation.dedup_key(key)]
        params = self._params(delay, at, priority)
        if connection is not None or keys is not None:
            # In the caller's transaction, or keyed (its statement retries per key): alone.
            return (await self._write([text], keys, params, connection))[0]
        await self._pace(1)
        observation = instrumentation.enqueue(self.queue_info.queue_name, 1)
        return await self._coalescer.submit(text, params, observation)

    async def _alone(self, text: str, params: dict[str, Any], observation: Any) -> models.QueueMessage:
        """Write one call's message by itself, as a producer with a single caller always does."""
        return (await self._send([text], None, params, None, [observation]))[0]

    async def _together(self, batch: list[_coalesce.Pending]) -> list[models.QueueMessage]:
        """Write the calls the coalescer grouped in one statement (one of them: as alone)."""
        if len(batch) == 1:  # a call promoted to lead, with none queued behind it
            return [await self._alone(batch[0].text, batch[0].params, batch[0].observation)]
        params = _coalesce.statement_params(batch, self.queue_info.id)
        if _notify.THROTTLE.due(self.queue_info.schema, self.queue_info.id):
            params.update(channel=_notify.CHANNEL, wake=self._wake)
        seen = [item.observation for item in batch]
        rows = await self._insert("message_enqueue_each", params, None, len(batch), seen)
        return _coalesce.messages(batch, rows, self.queue_info.id)

    async def _write(self, texts: list[str], keys: Keys, params: dict[str, Any], connection: Any) -> Messages:
        """Run the enqueue (every argument checked already) and return the messages."""
        caller = None if connection is None else await _compat.driver_connection(connection)
        await self._pace(len(texts))
        return await self._send(texts, keys, params, caller)

    async def _send(
        self, texts: list[str], keys: Keys, params: dict[str, Any], caller: Any, observations: Seen = None
    ) -> list[models.QueueMessage]:
        """Write paced messages: on the pool (caller None) or in the caller's transaction."""
        # In a caller's transaction the wake-up goes out at its commit, maybe much later: always
        # send it, and leave the throttle to enqueues that commit at once.
        if (caller is not None and _caller.in_transaction(caller)) or _notify.THROTTLE.due(
            self.queue_info.schema, self.queue_info.id
        ):
            params.update(channel=_notify.CHANNEL, wake=self._wake)
        if keys is not None and any(key is not None for key in keys):
            return await self._keyed(texts, keys, params, caller)
        if len(texts) == 1:
            name, params["payload"] = "message_enqueue_assigned", texts[0]
        else:
            name, params["payloads"] = "message_enqueue_batch", texts
        rows = await self._insert(name, params, caller, len(texts), observations)
        # Ids are assigned in input order; RETURNING's order is not promised, so sort by id.
        rows.sort(key=operator.itemgetter(0))
        queue_id, priority = self.queue_info.id, params["priority"]
        return [
            models.QueueMessage(msg_id, queue_id, payload, enqueued_at, vt, 0, None, None, None, priority)
            for (msg_id, enqueued_at, vt), payload in zip(rows, _decoding.stored(texts), strict=True)
        ]

    async def _keyed(
        self, texts: list[str], keys: list[str | None], params: dict[str, Any], caller: Any
    ) -> list[models.QueueMessage]:
        """Enqueue with dedup keys: written rows, or the live or acknowledged (within the dedup
        window) messages of keys already taken."""
        payloads = _decoding.stored(texts)
        by_key: dict[str, models.QueueMessage] = {}
        by_position: dict[int, models.QueueMessage] = {}
        pending = list(range(len(texts)))
        for _attempt in range(_KEYED_ATTEMPTS):
            batch = {"payloads": [texts[i] for i in pending], "keys": [keys[i] for i in pending]}
            name = "message_enqueue_keyed_windowed" if self._windowed else "message_enqueue_keyed"
            rows = await self._insert(name, {**params, **batch}, caller, len(pending))
            # The single statement says whether the queue has a window now (set meanwhile).
            self._windowed = self._windowed or any(len(row) > 12 and row[12] for row in rows)
            # Keyed rows are written in key order, then the unkeyed ones in input order (their
            # ids follow it); a key's row belongs to its first position.
            unkeyed = iter([i for i in pending if keys[i] is None])
            first: dict[str | None, int] = {}
            for i in pending:
                first.setdefault(keys[i], i)
            for row in sorted(rows, key=operator.itemgetter(0)):
                key = row[9]
                position = next(unkeyed) if key is None else first[key]
                message = self._keyed_message(row, payloads[position])
                if key is None:
                    by_position[position] = message
                else:
                    by_key[key] = message
            pending = [i for i in pending if keys[i] is not None and keys[i] not in by_key]
            if not pending:
                return [by_position[i] if key is None else by_key[key] for i, key in enumerate(keys)]
        raise errors.DatabaseError(
            f"dedup keys kept changing hands during {_KEYED_ATTEMPTS} attempts; nothing is known "
            "about them (retry the enqueue)"
        )

    def _keyed_message(self, row: tuple[Any, ...], payload: Any) -> models.QueueMessage:
        """Return the message of a keyed row: written now or acknowledged within the dedup window
        (`payload` is this call's), or live already (its own payload)."""
        msg_id, text, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority, key = row[:10]
        fresh, acked = row[10:12]
        if not fresh and acked is None:
            payload = _decoding.loads(text)
        return models.QueueMessage(
            msg_id, self.queue_info.id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id,
            last_error, priority, key, acked,
        )  # fmt: skip

    async def _insert(
        self, name: str, params: dict[str, Any], caller: Any, count: int, observations: Seen = None
    ) -> list[tuple[Any, ...]]:
        """Run an enqueue statement; `observations`: the calls' own (else one for it, started here)."""
        if "wake" in params:
            name += "_notify"
        if observations is None:
            observations = [instrumentation.enqueue(self.queue_info.queue_name, count)]
        if "trace_contexts" not in params:  # one statement, one context
            params["trace_context"] = None if observations[0] is None else observations[0].trace_context
        try:
            if caller is None:
                rows = await self._database.fetch(name, params)
            else:
                prepare = self.config.use_prepared_statements
                rows = await self._database.fetch_on(caller, name, params, prepare)
        except BaseException as error:
            instrumentation.finish_all(observations, error)
            if isinstance(error, errors.DatabaseError) and error.sqlstate == _FOREIGN_KEY_VIOLATION:
                raise errors.QueueNotFound(self.queue_info.queue_name) from None
            raise
        instrumentation.finish_all(observations, None)
        return rows

    async def _pace(self, count: int) -> None:
        if self._limiter is None:
            return
        async with self._limiter_lock:
            wait = self._limiter.reserve(count)
        if wait > 0:
            await _compat.sleep(wait)

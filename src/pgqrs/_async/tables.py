"""Table APIs: direct, administrative access to the four pgqrs tables.

Each class wraps one table behind the same `Table` protocol (insert, get, list, delete, count,
count_by_fk, filter_by_fk). They bypass lease ownership: `PgqrsMessages.delete` removes a message
whoever holds it. Producers and consumers are the safe, everyday API.
"""

from __future__ import annotations

import builtins
from typing import Any, Generic, Protocol, TypeVar

from psycopg_pool import AsyncConnectionPool

from pgqrs import _notify, _validation, errors, models
from pgqrs import config as config_module
from pgqrs._async import _database

RecordT = TypeVar("RecordT")
NewT = TypeVar("NewT", contravariant=True)
_Record = TypeVar("_Record")
FOREIGN_KEY_VIOLATION = "23503"


class Table(Protocol[RecordT, NewT]):
    """The interface every table API implements."""

    async def insert(self, new: NewT) -> RecordT: ...
    async def get(self, id: int) -> RecordT: ...
    async def list(self) -> builtins.list[RecordT]: ...
    async def delete(self, id: int) -> bool: ...
    async def count(self) -> int: ...
    async def count_by_fk(self, id: int) -> int: ...
    async def filter_by_fk(self, id: int) -> builtins.list[RecordT]: ...


class _TableBase(Generic[_Record]):
    """Shared plumbing: a named-query executor and the table's query prefix.

    `max_payload_bytes` limits the payloads that the messages and archive tables accept.
    """

    _prefix = ""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        schema: str = "public",
        max_payload_bytes: int = config_module.DEFAULT_MAX_PAYLOAD_BYTES,
        *,
        timeout: float | None = None,
    ) -> None:
        """`timeout`: connection_timeout_seconds for its calls; the pool's own timeout when None."""
        self.pool = pool
        self.schema = _validation.schema_name(schema)
        self.max_payload_bytes = max_payload_bytes
        self._database = _database.Database(pool, self.schema, timeout)

    def _record(self, row: tuple[Any, ...]) -> _Record:
        raise NotImplementedError

    def _missing(self, id: int) -> errors.NotFoundError:
        raise NotImplementedError

    async def get(self, id: int) -> _Record:
        """Return the record with this id.

        Raises:
            NotFoundError: No such record (the table's own subclass).
        """
        row = await self._database.fetch_one(f"{self._prefix}_get", {"id": id})
        if row is None:
            raise self._missing(id)
        return self._record(row)

    async def _insert_row(self, name: str, params: dict[str, Any], queue_id: int) -> tuple[Any, ...]:
        try:
            row = await self._database.fetch_one(name, params)
        except errors.DatabaseError as error:
            if error.sqlstate == FOREIGN_KEY_VIOLATION:
                raise errors.QueueNotFound(queue_id=queue_id) from None
            raise
        assert row is not None
        return row

    async def count(self) -> int:
        """Return the number of records."""
        return int(await self._database.scalar(f"{self._prefix}_count"))

    async def delete(self, id: int) -> bool:
        """Delete the record with this id; return False when there was none."""
        return bool(await self._database.scalar(f"{self._prefix}_delete", {"id": id}))


class PgqrsQueues(_TableBase[models.QueueInfo]):
    """The pgqrs_queues table."""

    _prefix = "queue"

    def _record(self, row: tuple[Any, ...]) -> models.QueueInfo:
        return models.QueueInfo(row[0], row[1], row[2], self.schema, row[3])

    def _missing(self, id: int) -> errors.NotFoundError:
        return errors.QueueNotFound(queue_id=id)

    async def insert(self, new: models.NewQueue) -> models.QueueInfo:
        """Create a queue.

        Raises:
            QueueAlreadyExists: The name is taken.
            ValidationError: The name is not a valid queue name.
        """
        name = _validation.queue_name(new.queue_name)
        window = _validation.seconds(new.dedup_window, "dedup_window")
        row = await self._database.fetch_one("queue_insert", {"queue_name": name, "dedup_window": window})
        if row is None:
            raise errors.QueueAlreadyExists(name)
        return self._record(row)

    async def get_by_name(self, queue_name: str) -> models.QueueInfo:
        """Return the queue with this name.

        Raises:
            QueueNotFound: No queue has this name.
        """
        row = await self._database.fetch_one("queue_get_by_name", {"queue_name": queue_name})
        if row is None:
            raise errors.QueueNotFound(queue_name)
        return self._record(row)

    async def set_dedup_window(self, queue_name: str, window: Any) -> models.QueueInfo:
        """Set how long the keys of a queue's acknowledged messages stay reserved; return the queue.

        Raises:
            QueueNotFound: No queue has this name.
        """
        params = {"queue_name": queue_name, "dedup_window": _validation.seconds(window, "dedup_window")}
        row = await self._database.fetch_one("queue_set_dedup_window", params)
        if row is None:
            raise errors.QueueNotFound(queue_name)
        return self._record(row)

    async def list(self) -> builtins.list[models.QueueInfo]:
        """Return every queue, oldest first."""
        return [self._record(row) for row in await self._database.fetch("queue_list")]

    async def delete(self, id: int) -> bool:
        """Delete a queue with its archive and workers; refuse while it holds messages.

        Raises:
            QueueNotEmpty: Messages remain (purge them first), or arrived while it was deleted.
        """
        try:
            row = await self._database.fetch_one("queue_delete", {"id": id})
        except errors.DatabaseError as error:
            if error.sqlstate != FOREIGN_KEY_VIOLATION:
                raise
            # A message was enqueued between the count and the delete, and the foreign key
            # refused: count again (it is seen now) and answer as for any non-empty queue.
            row = await self._database.fetch_one("queue_delete", {"id": id})
        deleted, pending, name = row if row is not None else (0, 0, None)
        if pending:
            raise errors.QueueNotEmpty(str(name), int(pending))
        return bool(deleted)

    async def count_by_fk(self, id: int) -> int:
        """Return 1 if a queue has this id, else 0."""
        return int(await self._database.scalar("queue_count_by_id", {"id": id}))

    async def filter_by_fk(self, id: int) -> builtins.list[models.QueueInfo]:
        """Return the queue with this id as a list (empty when missing)."""
        return [self._record(row) for row in await self._database.fetch("queue_filter_by_id", {"id": id})]


class PgqrsWorkers(_TableBase[models.WorkerInfo]):
    """The pgqrs_workers table."""

    _prefix = "worker"

    def _record(self, row: tuple[Any, ...]) -> models.WorkerInfo:
        return models.WorkerInfo(*row)

    def _missing(self, id: int) -> errors.NotFoundError:
        return errors.WorkerNotFound(id)

    async def insert(self, new: models.NewWorker) -> models.WorkerInfo:
        """Register a worker for a queue.

        Raises:
            QueueNotFound: The queue does not exist.
        """
        params = {"queue_id": new.queue_id, "hostname": new.hostname, "pid": new.pid}
        return self._record(await self._insert_row("worker_insert", params, new.queue_id))

    async def list(self) -> builtins.list[models.WorkerInfo]:
        """Return every worker."""
        return [self._record(row) for row in await self._database.fetch("worker_list")]

    async def count_by_fk(self, id: int) -> int:
        """Return the number of workers registered for queue `id`."""
        return int(await self._database.scalar("worker_count_by_queue", {"queue_id": id}))

    async def filter_by_fk(self, id: int) -> builtins.list[models.WorkerInfo]:
        """Return the workers registered for queue `id`."""
        rows = await self._database.fetch("worker_filter_by_queue", {"queue_id": id})
        return [self._record(row) for row in rows]

    async def heartbeat(self, id: int) -> bool:
        """Record that the worker is alive (database time); False when it was removed."""
        return bool(await self._database.scalar("worker_heartbeat", {"id": id}))

    async def mark_stopped(self, id: int) -> bool:
        """Mark the worker stopped; False when it was removed."""
        return bool(await self._database.scalar("worker_stop", {"id": id}))

    async def reap(self, older_than: float) -> int | None:
        """`remove_stale`, unless another process is doing it now; None when it was not elected."""
        params = {"older_than": float(older_than), "schema": self.schema}
        row = await self._database.fetch_one("worker_reap", params)
        return None if row is None or not row[0] else int(row[1])

    async def remove_stale(self, older_than: float) -> int:
        """Delete workers without a heartbeat for `older_than` seconds; return how many."""
        params = {"older_than": float(older_than)}
        return int(await self._database.scalar("worker_remove_stale", params))


class PgqrsMessages(_TableBase[models.QueueMessage]):
    """The pgqrs_messages table (administrative: no lease checks)."""

    _prefix = "message"

    def _record(self, row: tuple[Any, ...]) -> models.QueueMessage:
        return models.QueueMessage(*row)

    def _missing(self, id: int) -> errors.NotFoundError:
        return errors.MessageNotFound(id)

    async def insert(self, new: models.NewMessage) -> models.QueueMessage:
        """Insert one message (as `Producer.enqueue` does).

        Raises:
            ValidationError: The payload is not valid JSON for PostgreSQL.
            QueueNotFound: The queue does not exist.
        """
        params = {
            "queue_id": new.queue_id,
            "payload": _validation.encode_payload(new.payload, self.max_payload_bytes),
            "delay": _validation.seconds(new.delay_seconds, "delay"),
            "priority": _validation.priority(new.priority),
        }
        return self._record(await self._insert_row("message_enqueue", params, new.queue_id))

    async def list(self, limit: int | None = None) -> builtins.list[models.QueueMessage]:
        """Return messages by id (all, or the first `limit`)."""
        return [self._record(row) for row in await self._database.fetch("message_list", {"limit": limit})]

    async def count_by_fk(self, id: int) -> int:
        """Return the number of messages in queue `id`."""
        return int(await self._database.scalar("message_count_by_queue", {"queue_id": id}))

    async def filter_by_fk(self, id: int, limit: int | None = None) -> builtins.list[models.QueueMessage]:
        """Return the messages of queue `id` in visibility order."""
        rows = await self._database.fetch("message_filter_by_queue", {"queue_id": id, "limit": limit})
        return [self._record(row) for row in rows]

    async def purge(self, queue_id: int) -> int:
        """Delete every message of a queue; return how many."""
        return int(await self._database.scalar("message_purge_queue", {"queue_id": queue_id}))

    async def trace_contexts(self, ids: builtins.list[int]) -> dict[int, str]:
        """Return the stored trace context of each of these messages that has one."""
        return dict(await self._database.fetch("message_trace_contexts", {"ids": ids}))

    async def outstanding(self, queue_ids: builtins.list[int]) -> bool:
        """Return whether any message of these queues is visible, leased or waiting for a retry
        (one delayed by its producer and never delivered does not count)."""
        return bool(await self._database.scalar("message_outstanding", {"queue_ids": queue_ids}))


class PgqrsArchiveTable(_TableBase[models.ArchivedMessage]):
    """The pgqrs_archive table."""

    _prefix = "archive"

    def _record(self, row: tuple[Any, ...]) -> models.ArchivedMessage:
        return models.ArchivedMessage(*row)

    def _missing(self, id: int) -> errors.NotFoundError:
        return errors.MessageNotFound(id, f"archived message with id {id} does not exist")

    async def insert(self, new: models.NewArchivedMessage) -> models.ArchivedMessage:
        """Insert an archive record directly (import or restore).

        Raises:
            ValidationError: The payload is not valid JSON for PostgreSQL.
            QueueNotFound: The queue does not exist.
        """
        params = {
            "original_msg_id": _validation.message_id(new.original_msg_id),
            "queue_id": new.queue_id,
            "payload": _validation.encode_payload(new.payload, self.max_payload_bytes),
            "read_ct": new.read_ct,
            "dead_letter_reason": new.dead_letter_reason,
        }
        return self._record(await self._insert_row("archive_insert", params, new.queue_id))

    async def get_by_original_id(self, queue_id: int, original_msg_id: int) -> models.ArchivedMessage:
        """Return the archive record of message `original_msg_id` of queue `queue_id`.

        Raises:
            MessageNotFound: That message is not in the archive.
        """
        params = {"queue_id": queue_id, "original_msg_id": original_msg_id}
        row = await self._database.fetch_one("archive_get_by_original_id", params)
        if row is None:
            raise errors.MessageNotFound(original_msg_id, f"message {original_msg_id} is not in the archive")
        return self._record(row)

    async def list(self, limit: int | None = None) -> builtins.list[models.ArchivedMessage]:
        """Return archive records, newest first (all, or the newest `limit`)."""
        return [self._record(row) for row in await self._database.fetch("archive_list", {"limit": limit})]

    async def count_by_fk(self, id: int) -> int:
        """Return the number of archived messages of queue `id`."""
        return int(await self._database.scalar("archive_count_by_queue", {"queue_id": id}))

    async def filter_by_fk(
        self, id: int, limit: int | None = None, message_type: str | None = None
    ) -> builtins.list[models.ArchivedMessage]:
        """Return the archived messages of queue `id`, newest first (of one payload "type")."""
        params = {"queue_id": id, "limit": limit, "message_type": message_type}
        rows = await self._database.fetch("archive_filter_by_queue", params)
        return [self._record(row) for row in rows]

    async def delivery_summary(self, queue_id: int) -> tuple[int, int]:
        """Return (archive records, distinct original message ids) of a queue: equal when no
        message was archived twice."""
        row = await self._database.fetch_one("archive_delivery_summary", {"queue_id": queue_id})
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def purge(self, queue_id: int) -> int:
        """Delete every archive record of a queue; return how many."""
        return int(await self._database.scalar("archive_purge_queue", {"queue_id": queue_id}))

    async def dead_letters(
        self, queue_id: int, limit: int = 100, after_id: int = 0
    ) -> builtins.list[models.ArchivedMessage]:
        """Return up to `limit` dead letters of queue `queue_id` with ids above `after_id`, by id."""
        params = {"queue_id": queue_id, "limit": limit, "after_id": after_id}
        return [self._record(row) for row in await self._database.fetch("archive_dead_letters", params)]

    async def requeue(self, queue_id: int, ids: builtins.list[int] | None) -> dict[int, int]:
        """Move dead letters of a queue (these archive ids; None: all) back onto it as new messages.

        Returns:
            {archive record id: new message id} for each dead letter moved; ids that are not
            dead letters of this queue are left out.
        """
        params: dict[str, Any] = {
            "queue_id": queue_id,
            "channel": _notify.CHANNEL,
            "wake": _notify.wake_payload(self.schema, queue_id),
        }
        if ids is None:
            row = await self._database.fetch_one("archive_requeue_all", params)
        else:
            params["ids"] = ids
            row = await self._database.fetch_one("archive_requeue", params)
        archive_ids, message_ids, _woken = row if row is not None else ([], [], 0)
        return dict(zip(archive_ids, message_ids, strict=True))

"""Frozen records returned by the API. Field order matches the SQL column order (rows map 1:1)."""

from __future__ import annotations

import dataclasses
import datetime
import sys
from typing import Any, Generic

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:  # the default= of PEP 696 (typing_extensions comes with psycopg on these versions)
    from typing_extensions import TypeVar

# A message's payload type: Any (the decoded JSON) unless a typed handler decoded it.
PayloadT = TypeVar("PayloadT", default=Any)
NewPayloadT = TypeVar("NewPayloadT")


@dataclasses.dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue. `schema` records where it lives so producers and consumers find its tables."""

    id: int
    queue_name: str
    created_at: datetime.datetime
    schema: str = "public"


@dataclasses.dataclass(frozen=True, slots=True)
class QueueMessage(Generic[PayloadT]):
    """A message waiting in, or leased from, a queue.

    `read_ct` counts its deliveries; `last_error` is the error of its last failed attempt (set by
    the worker runtime while it waits for a retry), None when no attempt failed. Higher
    `priority` is leased first; `dedup_key` is the idempotency key it was enqueued with. The
    payload is the stored JSON (`QueueMessage` alone means `QueueMessage[Any]`); a typed handler
    gets a `QueueMessage[YourType]` (see `with_payload`).
    """

    id: int
    queue_id: int
    payload: PayloadT
    enqueued_at: datetime.datetime
    vt: datetime.datetime
    read_ct: int
    dequeued_at: datetime.datetime | None
    worker_id: int | None
    last_error: str | None = None
    priority: int = 0
    dedup_key: str | None = None

    @property
    def attempt(self) -> int:
        """Return which attempt this delivery is (1 for the first); the same count as `read_ct`."""
        return self.read_ct

    def with_payload(self, payload: NewPayloadT) -> QueueMessage[NewPayloadT]:
        """Return this message carrying `payload` instead (e.g. the payload decoded to a type)."""
        return QueueMessage(
            self.id,
            self.queue_id,
            payload,
            self.enqueued_at,
            self.vt,
            self.read_ct,
            self.dequeued_at,
            self.worker_id,
            self.last_error,
            self.priority,
            self.dedup_key,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """A message moved to the archive: acknowledged, or dead-lettered (`dead_letter_reason` set)."""

    id: int
    original_msg_id: int
    queue_id: int
    payload: Any
    enqueued_at: datetime.datetime
    dequeued_at: datetime.datetime | None
    read_ct: int
    archived_at: datetime.datetime
    processing_duration: int | None
    worker_id: int | None
    dead_letter_reason: str | None = None
    last_error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A registered consumer process."""

    id: int
    queue_id: int
    hostname: str
    pid: int
    started_at: datetime.datetime
    heartbeat_at: datetime.datetime
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Counts describing a queue's health at one instant of the database clock."""

    queue_name: str
    total_messages: int
    pending_count: int
    locked_count: int
    delayed_count: int
    archived_count: int
    dead_letter_count: int
    oldest_pending_at: datetime.datetime | None
    newest_message_at: datetime.datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A periodic job as stored: `payload` onto `queue_name` at every tick of `cron` (read in
    `timezone`) or of `every_seconds`. `last_tick_at` is the latest tick recorded (at first the
    creation time): ticks after it are still to come."""

    id: int
    name: str
    queue_name: str
    cron: str | None
    every_seconds: float | None
    timezone: str
    payload: Any
    priority: int
    catch_up: bool
    last_tick_at: datetime.datetime
    created_at: datetime.datetime

    @property
    def timing(self) -> str:
        """Return the cron expression, or "every Ns"."""
        return self.cron if self.cron is not None else f"every {self.every_seconds:g}s"


@dataclasses.dataclass(frozen=True, slots=True)
class NewQueue:
    """Input for `PgqrsQueues.insert`."""

    queue_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class NewWorker:
    """Input for `PgqrsWorkers.insert`."""

    queue_id: int
    hostname: str
    pid: int


@dataclasses.dataclass(frozen=True, slots=True)
class NewMessage:
    """Input for `PgqrsMessages.insert`; `delay_seconds` postpones visibility."""

    queue_id: int
    payload: Any
    delay_seconds: float = 0
    priority: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class NewArchivedMessage:
    """Input for `PgqrsArchiveTable.insert` (restores or imports an archive record)."""

    original_msg_id: int
    queue_id: int
    payload: Any
    read_ct: int = 0
    dead_letter_reason: str | None = None


def as_dict(record: Any) -> dict[str, Any]:
    """Return a model as a plain dict keyed by attribute name (for JSON output)."""
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}

"""Frozen records returned by the API. Field order matches the SQL column order (rows map 1:1)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue. `schema` records where it lives so producers and consumers find its tables."""

    id: int
    queue_name: str
    created_at: datetime.datetime
    schema: str = "public"


@dataclasses.dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message waiting in, or leased from, a queue.

    `read_ct` counts its deliveries; `last_error` is the error of its last failed attempt (set by
    the worker runtime while it waits for a retry), None when no attempt failed.
    """

    id: int
    queue_id: int
    payload: Any
    enqueued_at: datetime.datetime
    vt: datetime.datetime
    read_ct: int
    dequeued_at: datetime.datetime | None
    worker_id: int | None
    last_error: str | None = None

    @property
    def attempt(self) -> int:
        """Return which attempt this delivery is (1 for the first); the same count as `read_ct`."""
        return self.read_ct


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

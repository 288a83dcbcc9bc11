"""The blocking pgqrs API: the same classes and methods as `pgqrs`, without an event loop.

from pgqrs import sync as pgqrs

with pgqrs.PgqrsAdmin.connect(pgqrs.Config.from_dsn(dsn)) as admin:
    queue = admin.create_queue("emails")
    pgqrs.Producer(admin.pool, queue).enqueue({"to": "someone@example.com"})
"""

from __future__ import annotations

from pgqrs import errors, schedules
from pgqrs._sync.admin import PgqrsAdmin
from pgqrs._sync.app import App
from pgqrs._sync.consumer import Consumer
from pgqrs._sync.producer import Producer
from pgqrs.config import Config
from pgqrs.errors import (
    CallTimedOut,
    ConfigError,
    DatabaseError,
    MessageNotFound,
    NotFoundError,
    OutcomeUnknown,
    PgqrsError,
    QueueAlreadyExists,
    QueueNotEmpty,
    QueueNotFound,
    ScheduleAlreadyExists,
    ScheduleNotFound,
    SchemaError,
    ValidationError,
    WorkerNotFound,
)
from pgqrs.models import ArchivedMessage, QueueInfo, QueueMessage, QueueMetrics, ScheduleInfo, WorkerInfo
from pgqrs.runtime import Discard, Retry, RetryPolicy, RunStats
from pgqrs.schedules import Schedule
from pgqrs.sync import tables

__all__ = [
    "App",
    "ArchivedMessage",
    "CallTimedOut",
    "Config",
    "ConfigError",
    "Consumer",
    "DatabaseError",
    "Discard",
    "MessageNotFound",
    "NotFoundError",
    "OutcomeUnknown",
    "PgqrsAdmin",
    "PgqrsError",
    "Producer",
    "QueueAlreadyExists",
    "QueueInfo",
    "QueueMessage",
    "QueueMetrics",
    "QueueNotEmpty",
    "QueueNotFound",
    "Retry",
    "RetryPolicy",
    "RunStats",
    "Schedule",
    "ScheduleAlreadyExists",
    "ScheduleInfo",
    "ScheduleNotFound",
    "SchemaError",
    "ValidationError",
    "WorkerInfo",
    "WorkerNotFound",
    "errors",
    "schedules",
    "tables",
]

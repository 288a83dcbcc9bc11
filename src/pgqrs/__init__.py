"""pgqrs: a PostgreSQL-backed job queue. This module is the async API; `pgqrs.sync` blocks.

import pgqrs

config = pgqrs.Config.from_dsn("postgresql://postgres@localhost/postgres")
async with await pgqrs.PgqrsAdmin.connect(config) as admin:
    await admin.install()
    queue = await admin.create_queue("emails")
    producer = pgqrs.Producer(admin.pool, queue, config)
    await producer.enqueue({"to": "someone@example.com"})
"""

from __future__ import annotations

from pgqrs import errors, schedules, tables
from pgqrs._async.admin import PgqrsAdmin
from pgqrs._async.app import App
from pgqrs._async.consumer import Consumer
from pgqrs._async.producer import Producer
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

__version__ = "0.1.0"

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

"""Async table APIs (`pgqrs.sync.tables` has the blocking ones)."""

from __future__ import annotations

from pgqrs._async.schedule_table import PgqrsSchedules
from pgqrs._async.tables import PgqrsArchiveTable, PgqrsMessages, PgqrsQueues, PgqrsWorkers, Table
from pgqrs.models import NewArchivedMessage, NewMessage, NewQueue, NewWorker

__all__ = [
    "NewArchivedMessage",
    "NewMessage",
    "NewQueue",
    "NewWorker",
    "PgqrsArchiveTable",
    "PgqrsMessages",
    "PgqrsQueues",
    "PgqrsSchedules",
    "PgqrsWorkers",
    "Table",
]

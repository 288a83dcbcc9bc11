"""Blocking table APIs (generated twin of `pgqrs.tables`)."""

from __future__ import annotations

from pgqrs._sync.schedule_table import PgqrsSchedules
from pgqrs._sync.tables import PgqrsArchiveTable, PgqrsMessages, PgqrsQueues, PgqrsWorkers, Table
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

"""The database side of a run: its own schema, pgqrs installed, the raw tables, fills and checks."""

from __future__ import annotations

import contextlib
import importlib
import os
import time
import uuid
from typing import Any

import psycopg
from psycopg import sql

from pgqrs import config as config_module
from pgqrs.bench.payloads import SERVER_PAYLOAD

RAW_TABLES = """
CREATE TABLE {schema}.raw_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload jsonb NOT NULL,
    vt timestamptz NOT NULL DEFAULT now(),
    read_ct integer NOT NULL DEFAULT 0
);
CREATE INDEX raw_messages_vt_idx ON {schema}.raw_messages (vt, id);
CREATE TABLE {schema}.raw_archive (
    id bigint PRIMARY KEY,
    payload jsonb NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now()
)
"""


# Messages of another queue analyzed before a stale backlog arrives (issue 12's reproduction).
STALE_ROWS = 100


class DeliveryError(Exception):
    """A workload lost, duplicated or failed to acknowledge a message."""


class ChildFailed(RuntimeError):
    """A child process (W5 consumer, memory probe) failed; `connection_lost` if the server went away."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.connection_lost = any(mark in message for mark in _LOST_MARKS)


_LOST_MARKS = (
    "OperationalError",
    "connection is closed",
    "server closed",
    "shutting down",
    "refused",
    "administrator command",
    "not yet accepting",
    # The peers' drivers (asyncpg, the Rust bindings' sqlx) say it their own way.
    "ConnectionDoesNotExist",
    "connection was closed",
    "communicating with database",
    "PgqrsConnectionError",
)


def expect(what: str, actual: int, expected: int) -> None:
    """Raise `DeliveryError` unless `actual == expected`."""
    if actual != expected:
        raise DeliveryError(f"{what}: expected {expected}, got {actual}")


def connect(dsn: str, within: float = 300.0) -> psycopg.Connection[Any]:
    """Open an autocommit connection, waiting up to `within` seconds for a restarting server."""
    deadline = time.monotonic() + within
    while True:
        try:
            return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


class Environment:
    """A schema of its own on the benchmark server, dropped by `close()`."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.config = config_module.Config.from_dsn_with_schema(dsn, schema)
        self.connection = connect(dsn)
        self._identifier = sql.Identifier(schema)
        # Fill without refreshing the statistics after (W7 with --stale-statistics).
        self.stale_statistics = False

    @classmethod
    def create(cls, dsn: str, package: str = "pgqrs") -> Environment:
        """Create a fresh schema, install pgqrs (`package`'s schema) and the raw baseline's tables."""
        environment = cls(dsn, f"pgqrs_bench_{uuid.uuid4().hex[:10]}")
        try:
            environment.execute("CREATE SCHEMA {schema}")
            library: Any = importlib.import_module(f"{package}.sync")
            with library.PgqrsAdmin.connect(environment.config) as admin:
                admin.install()
            environment.execute(RAW_TABLES)
        except BaseException:
            environment.close()
            raise
        return environment

    def close(self) -> None:
        """Drop the schema (and every table in it) and close the setup connection."""
        drop = self.compose("DROP SCHEMA IF EXISTS {schema} CASCADE")
        try:
            self.connection.execute(drop)
        except psycopg.Error:
            # The setup connection died (a server restart mid-run): drop through a new one.
            with contextlib.suppress(psycopg.Error), psycopg.connect(self.dsn, autocommit=True) as connection:
                connection.execute(drop)
        self.connection.close()

    def reconnect(self) -> None:
        """Replace the setup connection once the server accepts connections again (a restart)."""
        with contextlib.suppress(psycopg.Error):
            self.connection.close()
        self.connection = connect(self.dsn)

    def compose(self, text: str) -> sql.Composed:
        """Return `text` with ``{schema}`` filled in as a quoted identifier."""
        return sql.SQL(text).format(schema=self._identifier)

    def execute(self, text: str, params: Any = None) -> None:
        """Run a statement on the setup connection."""
        self.connection.execute(self.compose(text), params)

    def scalar(self, text: str, params: Any = None) -> int:
        """Return the integer the statement's first column gives."""
        row = self.connection.execute(self.compose(text), params).fetchone()
        assert row is not None
        return int(row[0])

    def quiesce(self) -> None:
        """Flush dirty buffers before a timed part, so no checkpoint lands inside it by chance.

        os.sync() then writes the kernel's dirty pages (a local server's checkpoint of a 1M-row
        fill), which would otherwise slow the commits of the timed part down.
        """
        with contextlib.suppress(psycopg.Error):
            self.connection.execute("CHECKPOINT")
        os.sync()

    # pgqrs tables ------------------------------------------------------------------------------

    def reset_pgqrs(self, keep_archive: bool = False) -> None:
        """Empty the pgqrs message table (and the archive unless kept): every run starts alike."""
        tables = (
            "{schema}.pgqrs_messages" if keep_archive else "{schema}.pgqrs_messages, {schema}.pgqrs_archive"
        )
        self.execute(f"TRUNCATE {tables}")

    def fill_pgqrs(self, queue_id: int, count: int) -> None:
        """Insert `count` visible messages for a queue, server-side, and refresh the statistics.

        With `stale_statistics`, the statistics are gathered before the backlog arrives, while
        another queue holds 100 messages: the normal state of a new queue, or of a burst.
        """
        if self.stale_statistics:
            self._insert_pgqrs(self._analyzed_queue(), STALE_ROWS)
            self.execute("ANALYZE {schema}.pgqrs_messages")
        self._insert_pgqrs(queue_id, count)
        if not self.stale_statistics:
            self.execute("ANALYZE {schema}.pgqrs_messages")

    def _insert_pgqrs(self, queue_id: int, count: int) -> None:
        self.execute(
            f"INSERT INTO {{schema}}.pgqrs_messages (queue_id, payload) "
            f"SELECT %s, {SERVER_PAYLOAD} FROM generate_series(1, %s) AS i",
            (queue_id, count),
        )

    def _analyzed_queue(self) -> int:
        """Return the id of the queue that holds the messages analyzed before a stale backlog."""
        return self.ensure_queue("analyzed")

    def ensure_queue(self, name: str) -> int:
        """Return the id of the queue named `name`, created when missing."""
        return self.scalar(
            "WITH made AS (INSERT INTO {schema}.pgqrs_queues (queue_name) VALUES (%(name)s) "
            "ON CONFLICT (queue_name) DO NOTHING RETURNING id) "
            "SELECT id FROM made UNION ALL "
            "SELECT id FROM {schema}.pgqrs_queues WHERE queue_name = %(name)s",
            {"name": name},
        )

    def fill_pgqrs_archive(self, queue_id: int, count: int) -> None:
        """Insert `count` archive records (history of another queue)."""
        self.execute(
            "INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, read_ct) "
            f"SELECT i, %s, {SERVER_PAYLOAD}, now(), 1 FROM generate_series(1, %s) AS i",
            (queue_id, count),
        )
        self.execute("ANALYZE {schema}.pgqrs_archive")

    def fill_history(self, count: int) -> None:
        """Fill the pgqrs archive with `count` records of a queue of its own (W7's full archive)."""
        queue_id = self.scalar(
            "INSERT INTO {schema}.pgqrs_queues (queue_name) VALUES ('w7-history') RETURNING id"
        )
        self.fill_pgqrs_archive(queue_id, count)

    def pgqrs_messages(self, queue_id: int) -> int:
        """Return how many messages a queue holds."""
        return self.scalar("SELECT count(*) FROM {schema}.pgqrs_messages WHERE queue_id = %s", (queue_id,))

    def pgqrs_archived(self, queue_id: int) -> int:
        """Return how many archive records a queue has."""
        return self.scalar("SELECT count(*) FROM {schema}.pgqrs_archive WHERE queue_id = %s", (queue_id,))

    # raw baseline tables -----------------------------------------------------------------------

    def reset_raw(self) -> None:
        """Empty the raw baseline's tables."""
        self.execute("TRUNCATE {schema}.raw_messages, {schema}.raw_archive RESTART IDENTITY")

    def fill_raw(self, count: int) -> None:
        """Insert `count` visible messages in the raw table, server-side, and refresh statistics
        (before the backlog arrives with `stale_statistics`, as for pgqrs)."""
        insert = (
            f"INSERT INTO {{schema}}.raw_messages (payload) "
            f"SELECT {SERVER_PAYLOAD} FROM generate_series(1, %s) AS i"
        )
        if self.stale_statistics:
            self.execute("ANALYZE {schema}.raw_messages")
        self.execute(insert, (count,))
        if not self.stale_statistics:
            self.execute("ANALYZE {schema}.raw_messages")

    def raw_messages(self) -> int:
        """Return how many messages the raw table holds."""
        return self.scalar("SELECT count(*) FROM {schema}.raw_messages")

    def raw_archived(self) -> int:
        """Return how many rows the raw archive holds."""
        return self.scalar("SELECT count(*) FROM {schema}.raw_archive")

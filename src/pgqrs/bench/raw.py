"""The raw-SQL baseline: a minimal hand-written psycopg queue, as issue 7 describes it.

One table; ``INSERT … RETURNING``; ``INSERT … SELECT FROM unnest(%s::jsonb[])``; a
``FOR UPDATE SKIP LOCKED`` CTE + ``UPDATE … RETURNING``; ``DELETE … WHERE id = ANY(%s)``.
Autocommit, psycopg's default JSON dumper and loader, the same payloads as pgqrs.

``--bounds`` adds two variants of it that show what no implementation can avoid:
``raw+schema`` runs the same statements on pgqrs's own table shape (tables made LIKE the
installed ones: every column and index of the current migration, plus issue 2's foreign keys; a
lease records its worker, an ack checks it), and ``raw-async+schema`` (``raw_async.py``) that
SQL through psycopg's async connection: the floors of the sync and the async API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pgqrs import config as config_module
from pgqrs.bench.library import BATCHES_PER_STEP, ENQUEUES_PER_STEP, SINGLE_CONSUMES_PER_STEP

ENQUEUE = "INSERT INTO {schema}.raw_messages (payload) VALUES (%s) RETURNING id"
ENQUEUE_BATCH = "INSERT INTO {schema}.raw_messages (payload) SELECT * FROM unnest(%s::jsonb[]) RETURNING id"
DEQUEUE = """
WITH candidates AS (
    SELECT id FROM {schema}.raw_messages
    WHERE vt <= now()
    ORDER BY vt, id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.raw_messages m
SET vt = now() + interval '30 seconds', read_ct = m.read_ct + 1
FROM candidates c
WHERE m.id = c.id
RETURNING m.id, m.payload
"""
DELETE = "DELETE FROM {schema}.raw_messages WHERE id = ANY(%s)"
ARCHIVE = """
WITH moved AS (DELETE FROM {schema}.raw_messages WHERE id = ANY(%s) RETURNING id, payload)
INSERT INTO {schema}.raw_archive (id, payload) SELECT id, payload FROM moved
"""
STATEMENTS = (ENQUEUE, ENQUEUE_BATCH, DEQUEUE, DELETE, ARCHIVE)
# W6's floor: an insert that notifies in the same statement (delivered at its commit).
ENQUEUE_NOTIFY = """
WITH inserted AS (INSERT INTO {schema}.raw_messages (payload) VALUES (%s) RETURNING id)
SELECT id, pg_notify(%s, 'raw') FROM inserted
"""

# raw+schema: the raw statements on pgqrs's own table shape, nothing else: each table is made
# LIKE pgqrs's installed one (every column, default, identity and index of the current migration:
# priority, dedup_key, trace_context, the dedup, priority, payload-type and worker indexes), with
# the foreign keys of issue 2 added (LIKE copies none). Still a floor: no RETURNING of the extra
# columns, no priority walk in the lease, no dead-letter count.
REQUIRED_SCHEMA = """
CREATE TABLE {schema}.raw_queues (id bigint PRIMARY KEY);
CREATE TABLE {schema}.raw_workers (id bigint PRIMARY KEY);
INSERT INTO {schema}.raw_queues VALUES (1);
INSERT INTO {schema}.raw_workers VALUES (1);
DROP TABLE {schema}.raw_messages, {schema}.raw_archive;
CREATE TABLE {schema}.raw_messages (LIKE {schema}.pgqrs_messages INCLUDING ALL);
ALTER TABLE {schema}.raw_messages
    ALTER COLUMN queue_id SET DEFAULT 1,
    ADD FOREIGN KEY (queue_id) REFERENCES {schema}.raw_queues (id),
    ADD FOREIGN KEY (worker_id) REFERENCES {schema}.raw_workers (id) ON DELETE SET NULL;
CREATE TABLE {schema}.raw_archive (LIKE {schema}.pgqrs_archive INCLUDING ALL);
ALTER TABLE {schema}.raw_archive
    ADD FOREIGN KEY (queue_id) REFERENCES {schema}.raw_queues (id) ON DELETE CASCADE
"""
SCHEMA_DEQUEUE = """
WITH candidates AS (
    SELECT id FROM {schema}.raw_messages
    WHERE queue_id = 1 AND vt <= now()
    ORDER BY vt, id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.raw_messages m
SET vt = now() + interval '30 seconds', read_ct = m.read_ct + 1, dequeued_at = now(), worker_id = 1
FROM candidates c
WHERE m.id = c.id
RETURNING m.id, m.payload
"""
SCHEMA_DELETE = "DELETE FROM {schema}.raw_messages WHERE id = ANY(%s) AND worker_id = 1"
SCHEMA_ARCHIVE = """
WITH moved AS (
    DELETE FROM {schema}.raw_messages WHERE id = ANY(%s) AND worker_id = 1
    RETURNING id, queue_id, payload, enqueued_at, dequeued_at, read_ct, worker_id
)
INSERT INTO {schema}.raw_archive
    (original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct, worker_id)
SELECT id, queue_id, payload, enqueued_at, dequeued_at, read_ct, worker_id FROM moved
"""
SCHEMA_STATEMENTS = (ENQUEUE, ENQUEUE_BATCH, SCHEMA_DEQUEUE, SCHEMA_DELETE, SCHEMA_ARCHIVE)


def statements(required_schema: bool) -> tuple[str, ...]:
    """Return the five statements (enqueue, batch, dequeue, delete, archive) of a variant."""
    return SCHEMA_STATEMENTS if required_schema else STATEMENTS


def prepare_threshold(dsn: str) -> int | None:
    """Prepare like pgqrs's own connections: psycopg's default, off behind a transaction pooler."""
    return 5 if config_module.Config.from_dsn(dsn).use_prepared_statements else None


class RawQueue:
    """The baseline queue on one autocommit connection."""

    def __init__(self, dsn: str, schema: str, required_schema: bool = False) -> None:
        self.connection: psycopg.Connection[Any] = psycopg.connect(
            dsn, autocommit=True, prepare_threshold=prepare_threshold(dsn)
        )
        identifier = sql.Identifier(schema)
        self._enqueue, self._enqueue_batch, self._dequeue, self._delete, self._archive = (
            sql.SQL(text).format(schema=identifier).as_bytes(self.connection)
            for text in statements(required_schema)
        )

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def enqueue(self, payload: Any) -> int:
        """Insert one message; return its id."""
        row = self.connection.execute(self._enqueue, (Jsonb(payload),)).fetchone()
        assert row is not None
        return int(row[0])

    def enqueue_batch(self, payloads: Sequence[Any]) -> list[int]:
        """Insert many messages in one statement; return their ids."""
        cursor = self.connection.execute(self._enqueue_batch, ([Jsonb(item) for item in payloads],))
        return [row[0] for row in cursor.fetchall()]

    def dequeue(self, limit: int) -> list[tuple[int, Any]]:
        """Lease up to `limit` visible messages; return (id, payload) pairs."""
        return self.connection.execute(self._dequeue, (limit,)).fetchall()

    def delete(self, ids: list[int]) -> int:
        """Delete messages by id; return how many went."""
        return self.connection.execute(self._delete, (ids,)).rowcount

    def archive(self, ids: list[int]) -> int:
        """Move messages to the archive table; return how many moved."""
        return self.connection.execute(self._archive, (ids,)).rowcount


def drain(
    queue: RawQueue, batch: int, archive: bool, limit: int | None, seen: list[int], pause: float = 0.0
) -> Iterator[None]:
    """Dequeue and acknowledge until empty (or `limit` messages), a few batches per step.

    `pause`: seconds of "work" per batch (W8s: the batch's handlers running side by side).
    """
    acknowledge = queue.archive if archive else queue.delete
    while True:
        for _ in range(BATCHES_PER_STEP):
            wanted = batch if limit is None else min(batch, limit - len(seen))
            rows = queue.dequeue(wanted) if wanted > 0 else []
            if not rows:
                return
            if pause:
                time.sleep(pause)
            ids = [row[0] for row in rows]
            if acknowledge(ids) != len(ids):
                raise RuntimeError("raw baseline: an acknowledgement missed a message")
            seen.extend(ids)
        yield


def drain_each(queue: RawQueue, seen: list[int]) -> Iterator[None]:
    """Dequeue and delete one message at a time until empty."""
    while True:
        for _ in range(SINGLE_CONSUMES_PER_STEP):
            rows = queue.dequeue(1)
            if not rows:
                return
            if queue.delete([rows[0][0]]) != 1:
                raise RuntimeError("raw baseline: delete missed a message")
            seen.append(rows[0][0])
        yield


def enqueue_each(queue: RawQueue, items: Sequence[Any]) -> Iterator[None]:
    """One insert per message."""
    for start in range(0, len(items), ENQUEUES_PER_STEP):
        for item in items[start : start + ENQUEUES_PER_STEP]:
            queue.enqueue(item)
        yield


def enqueue_batches(queue: RawQueue, batches: Sequence[Sequence[Any]]) -> Iterator[None]:
    """One insert statement per batch."""
    for start in range(0, len(batches), BATCHES_PER_STEP):
        for batch in batches[start : start + BATCHES_PER_STEP]:
            queue.enqueue_batch(batch)
        yield


def listen_and_lease(
    environment: Any, started: dict[int, float], stop: threading.Event, listening: threading.Event
) -> None:
    """W6's floor: LISTEN, and on each notification lease what is visible, noting when each
    message (by its payload's id) was taken; delete it. Until `stop`."""
    queue = RawQueue(environment.dsn, environment.schema)
    with psycopg.connect(environment.dsn, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier("pgqrs")))
        listening.set()
        while not stop.is_set():
            for _notification in listener.notifies(timeout=0.2, stop_after=1):
                for msg_id, payload in queue.dequeue(16):
                    started.setdefault(payload["id"], time.perf_counter())
                    queue.delete([msg_id])
    queue.close()

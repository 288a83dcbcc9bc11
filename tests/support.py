"""Helpers shared by tests (not fixtures): direct connections, embedded fallback, processes."""

from __future__ import annotations

import os
from typing import Any

import psycopg

_embedded_dsn: str | None = None


def connect(dsn: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection that works through a transaction pooler too."""
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def embedded_test_dsn() -> str | None:
    """Start (once per session) an embedded server in a temporary directory, if pgserver exists."""
    global _embedded_dsn
    if _embedded_dsn is None and os.environ.get("PGQRS_TEST_EMBEDDED", "1") != "0":
        try:
            from tests import embedded_server
        except ImportError:
            return None
        _embedded_dsn = embedded_server.start()
    return _embedded_dsn


def count(dsn: str, sql: str, *params: Any) -> int:
    """Return the integer the query's first column gives."""
    with connect(dsn) as connection:
        row = connection.execute(sql, params or None).fetchone()
        assert row is not None
        return int(row[0])


def drain_worker(dsn: str, schema: str, queue_name: str, batch: int, results: Any) -> None:
    """Consume a queue until it stays empty, archiving; put (acked ids, seen ids) on `results`.

    Runs in a child process (spawned), so it builds its own admin and pool.
    """
    import time

    from pgqrs import sync

    config = sync.Config.from_dsn_with_schema(dsn, schema).replace(max_connections=2)
    acked: list[int] = []
    seen: list[int] = []
    with sync.PgqrsAdmin.connect(config) as admin:
        consumer = sync.Consumer(admin.pool, admin.get_queue(queue_name), config)
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 2.0:
            messages = consumer.dequeue_batch(batch, lock_time=30)
            if not messages:
                time.sleep(0.05)
                continue
            idle_since = time.monotonic()
            ids = [message.id for message in messages]
            seen.extend(ids)
            results_of_archive = consumer.archive_batch(ids)
            acked.extend(msg_id for msg_id, done in zip(ids, results_of_archive, strict=True) if done)
        consumer.close()
    results.put((acked, seen))

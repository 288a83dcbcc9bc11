"""The dashboard's queries read about as much at 100,000 messages as at 2,000.

Each queue holds a backlog (a tenth visible, the rest delayed), a few leases, and an archive of
old acknowledged records with a few dead letters and a few records from the last minutes. Every
inspect_* statement is run warm under EXPLAIN (ANALYZE, BUFFERS): a count that did not stop at
its cap, a page that walked the backlog, or a throughput that read the old archive would touch
thousands of pages more on the large queue.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgqrs import _queries, inspection, models, sync
from tests import support

CAP = 1_000
# Index descents one level deeper, and a few more pages per page of results, stay under this.
MORE_BUFFERS_ALLOWED = 300
Connection = psycopg.Connection[Any]


def fill(connection: Connection, schema: str, queue_id: int, worker_id: int, backlog: int) -> None:
    messages = sql.Identifier(schema, "pgqrs_messages")
    archive = sql.Identifier(schema, "pgqrs_archive")
    connection.execute(
        sql.SQL(
            "INSERT INTO {} (queue_id, payload, vt) SELECT %s, jsonb_build_object('n', i), "
            "now() + CASE WHEN i %% 10 = 0 THEN interval '0' ELSE interval '1 hour' END "
            "FROM generate_series(1, %s) i"
        ).format(messages),
        (queue_id, backlog),
    )
    connection.execute(
        sql.SQL(
            "UPDATE {} SET worker_id = %s, vt = now() + interval '5 minutes' WHERE id IN "
            "(SELECT id FROM {} WHERE queue_id = %s ORDER BY id LIMIT 10)"
        ).format(messages, messages),
        (worker_id, queue_id),
    )
    connection.execute(
        sql.SQL(
            "INSERT INTO {} (original_msg_id, queue_id, payload, enqueued_at, read_ct, archived_at, "
            "dead_letter_reason) SELECT i, %s, '{{}}', now(), 1, "
            "now() - CASE WHEN i > %s - 50 THEN interval '1 minute' ELSE interval '3 hours' END, "
            "CASE WHEN i %% 10000 = 7 THEN 'gave up' END FROM generate_series(1, %s) i"
        ).format(archive),
        (queue_id, backlog, backlog),
    )
    for table in ("pgqrs_messages", "pgqrs_archive", "pgqrs_workers"):
        connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(schema, table)))


def buffers(connection: Connection, query: bytes, params: dict[str, Any]) -> int:
    """Return the shared buffers a warm run touches (the first also reads the catalog)."""
    touched = 0
    for _run in range(2):
        with connection.transaction(force_rollback=True):
            row = connection.execute(b"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, params).fetchone()
        assert row is not None
        document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
        plan = document[0]["Plan"]
        touched = int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])
    return touched


def reads(dsn: str, schema: str, backlog: int) -> dict[str, int]:
    config = sync.Config.from_dsn_with_schema(dsn, schema)
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        queue = admin.create_queue("jobs")
        worker = admin.workers.insert(models.NewWorker(queue.id, "cost", 1))
    queries = _queries.for_schema(schema)
    first_vt, first_id = inspection.FIRST_MESSAGE_KEY
    page = {"queue_id": queue.id, "after_vt": first_vt, "after_id": first_id, "limit": 50}
    archive_page = {"queue_id": queue.id, "before_id": inspection.LAST_ARCHIVE_ID, "limit": 50}
    hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    parameters: dict[str, dict[str, Any]] = {
        "inspect_queues": {"queue_name": None, "cap": CAP},
        "inspect_throughput": {"since": hour_ago},
        "inspect_messages_all": page,
        "inspect_messages_pending": page,
        "inspect_messages_delayed": page,
        "inspect_messages_in_flight": page,
        "inspect_archive": archive_page,
        "inspect_dead_letters": archive_page,
        "inspect_workers": {"limit": 200},
    }
    with support.connect(dsn) as connection:
        fill(connection, schema, queue.id, worker.id, backlog)
        return {name: buffers(connection, queries[name].text, params) for name, params in parameters.items()}


@pytest.fixture
def large_schema(dsn: str) -> Iterator[str]:
    name = f"pgqrs_test_{uuid.uuid4().hex[:12]}"
    with support.connect(dsn) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with support.connect(dsn) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def test_dashboard_queries_do_not_read_the_backlog(dsn: str, schema: str, large_schema: str) -> None:
    small = reads(dsn, schema, 2_000)
    large = reads(dsn, large_schema, 100_000)
    for name in small:
        assert large[name] - small[name] < MORE_BUFFERS_ALLOWED, (name, small, large)

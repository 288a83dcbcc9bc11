"""EXPLAIN of the hot queries at 100k rows: the dequeue and the acknowledgements use indexes.

`dequeue_and_ack_plans(dsn, schema)` installs pgqrs in `schema` (which must exist), fills one
queue with 100k messages (server-side), and returns the plan text of the dequeues and the
acknowledgements run with realistic parameters: the ids of one batch, of a worker that holds
20,000 leases taken after the statistics were gathered (they still say no row has a worker), the
case where an ack that used the worker_id index read every lease the worker held. Plans are from
plain EXPLAIN (nothing runs); with ``analyze=True`` each statement runs inside a transaction that
is rolled back. The filled messages are removed after.

    python -m pgqrs.bench.plans [DSN] [--analyze]    prints the plans (in a schema of its own)
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import psycopg
from psycopg import sql

from pgqrs import _queries, config, models
from pgqrs import sync as pgqrs_sync
from pgqrs.bench.payloads import SERVER_PAYLOAD

ROWS = 100_000
HELD = 20_000
PLANNED = (
    "message_dequeue",
    "message_dequeue_one",
    "message_delete_owned",
    "message_delete_owned_one",
    "archive_move",
)


def _explain(connection: psycopg.Connection[Any], query: bytes, params: dict[str, Any], analyze: bool) -> str:
    options = b"(ANALYZE, BUFFERS) " if analyze else b""
    with connection.transaction(force_rollback=True):
        rows = connection.execute(b"EXPLAIN " + options + query, params).fetchall()
    return "\n".join(row[0] for row in rows)


def dequeue_and_ack_plans(dsn: str, schema: str, rows: int = ROWS, analyze: bool = False) -> dict[str, str]:
    """Return ``{query name: plan text}`` for the dequeues and the acknowledgements."""
    settings = config.Config.from_dsn_with_schema(dsn, schema)
    with pgqrs_sync.PgqrsAdmin.connect(settings) as admin:
        admin.install()
        queue = admin.create_queue(f"plans-{uuid.uuid4().hex[:8]}")
        worker = admin.workers.insert(models.NewWorker(queue.id, "plans", 0))
    queries = _queries.for_schema(schema)
    table = sql.Identifier(schema, "pgqrs_messages")
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as connection:
        try:
            connection.execute(
                sql.SQL(
                    "INSERT INTO {} (queue_id, payload) SELECT %s, {} FROM generate_series(1, %s) AS i"
                ).format(table, sql.SQL(SERVER_PAYLOAD)),
                (queue.id, rows),
            )
            connection.execute(sql.SQL("VACUUM ANALYZE {}").format(table))
            # The worker leases the head of the queue after ANALYZE; an ack carries 100 of those ids.
            leased = connection.execute(
                sql.SQL(
                    "UPDATE {table} SET worker_id = %s, read_ct = 1, dequeued_at = now() WHERE id IN "
                    "(SELECT id FROM {table} WHERE queue_id = %s ORDER BY vt, id LIMIT %s) RETURNING id"
                ).format(table=table),
                (worker.id, queue.id, min(HELD, rows)),
            ).fetchall()
            ids = sorted(row[0] for row in leased)[:100]
            dequeue: dict[str, Any] = {
                "queue_id": queue.id,
                "limit": 100,
                "lock_time": 30.0,
                "worker_id": worker.id,
                "message_type": None,
            }
            acknowledge: dict[str, Any] = {"ids": ids, "queue_id": queue.id, "worker_id": worker.id}
            parameters: dict[str, dict[str, Any]] = {
                "message_dequeue": dequeue,
                "message_dequeue_one": dequeue,
                "message_delete_owned": acknowledge,
                "message_delete_owned_one": {**acknowledge, "id": ids[0]},
                "archive_move": acknowledge,
            }
            return {
                name: _explain(connection, queries[name].text, parameters[name], analyze) for name in PLANNED
            }
        finally:
            connection.execute(sql.SQL("DELETE FROM {} WHERE queue_id = %s").format(table), (queue.id,))


def main(argv: list[str]) -> int:
    """Print the plans, in a schema made for the purpose and dropped after."""
    positional = [argument for argument in argv if not argument.startswith("--")]
    dsn = positional[0] if positional else "postgresql://postgres@127.0.0.1:5432/postgres"
    schema = f"pgqrs_plans_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            for name, plan in dequeue_and_ack_plans(dsn, schema, analyze="--analyze" in argv).items():
                print(f"-- {name}\n{plan}\n")
        finally:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

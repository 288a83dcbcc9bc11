"""How the hot statements execute: their plans, and what one call reads as the backlog grows.

Two views, each in a schema made for it:

- `dequeue_and_ack_plans(dsn, schema)` fills one queue with 100k messages (server-side),
  analyzes, lets a worker take 20,000 leases the statistics do not know of, and returns the plan
  text of the dequeues and the acknowledgements run with realistic parameters. The dequeue runs
  inside the function pgqrs_dequeue: its inner plans are captured with auto_explain where the
  server has it (a NOTICE per statement), else only the outer call is shown.
- `stale_statistics_reads(dsn, schema, backlog)` builds the state a new queue is normally in:
  statistics gathered while another queue held 100 messages and this one did not exist, then a
  backlog of `backlog` messages ("sms", with 10 "email" at its end) at priorities 0, 1 and 2,
  and as many delayed messages at priority 50 (nothing visible at the highest priority, of
  either type). It returns the shared
  buffers each hot statement touches once (`EXPLAIN (ANALYZE, BUFFERS)` in a rolled-back
  transaction: nested statements included). A plan that walks or sorts the backlog reads
  buffers in proportion to it; the index order scan reads the same few whatever its size.

    python -m pgqrs.bench.plans [DSN] [--analyze]    prints the plans and the reads at 2k and 150k
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from pgqrs import _queries, config, models
from pgqrs import sync as pgqrs_sync
from pgqrs.bench.payloads import SERVER_PAYLOAD

ROWS = 100_000
HELD = 20_000
BATCH = 100
PLANNED = ("message_dequeue", "message_delete_owned", "message_delete_owned_one", "archive_move")
# The statements `stale_statistics_reads` measures; "message_dequeue_email" is the filtered one.
MEASURED = ("message_dequeue", "message_dequeue_email", "message_delete_owned", "archive_move")
Connection = psycopg.Connection[Any]


def _prepare(dsn: str, schema: str, name: str) -> tuple[models.QueueInfo, models.WorkerInfo]:
    """Install pgqrs, create a queue and register a worker for it."""
    settings = config.Config.from_dsn_with_schema(dsn, schema)
    with pgqrs_sync.PgqrsAdmin.connect(settings) as admin:
        admin.install()
        queue = admin.create_queue(f"{name}-{uuid.uuid4().hex[:8]}")
        worker = admin.workers.insert(models.NewWorker(queue.id, "plans", 0))
    return queue, worker


def _fill(connection: Connection, schema: str, queue_id: int, rows: int, payload: str) -> None:
    table = sql.Identifier(schema, "pgqrs_messages")
    statement = "INSERT INTO {} (queue_id, payload) SELECT %s, {} FROM generate_series(1, %s) AS i"
    connection.execute(sql.SQL(statement).format(table, sql.SQL(payload)), (queue_id, rows))


def _lease(connection: Connection, schema: str, queue_id: int, worker_id: int, count: int) -> list[int]:
    """Lease the head of the queue to the worker behind the statistics' back; return 100 ids."""
    table = sql.Identifier(schema, "pgqrs_messages")
    leased = connection.execute(
        sql.SQL(
            "UPDATE {table} SET worker_id = %s, read_ct = 1, dequeued_at = now() WHERE id IN "
            "(SELECT id FROM {table} WHERE queue_id = %s ORDER BY vt, id LIMIT %s) RETURNING id"
        ).format(table=table),
        (worker_id, queue_id, count),
    ).fetchall()
    return sorted(row[0] for row in leased)[:BATCH]


def _parameters(queue_id: int, worker_id: int, ids: list[int]) -> dict[str, dict[str, Any]]:
    dequeue = {"queue_id": queue_id, "limit": BATCH, "lock_time": 30.0, "worker_id": worker_id}
    acknowledge: dict[str, Any] = {"ids": ids, "queue_id": queue_id, "worker_id": worker_id}
    return {
        "message_dequeue": {**dequeue, "message_type": None},
        "message_dequeue_email": {**dequeue, "message_type": "email"},
        "message_delete_owned": acknowledge,
        "message_delete_owned_one": {**acknowledge, "id": ids[0]},
        "archive_move": acknowledge,
    }


@contextmanager
def _nested_plans(connection: Connection) -> Iterator[list[str]]:
    """Collect the plans of nested statements as NOTICEs (auto_explain), where the server has it."""
    plans: list[str] = []
    try:
        connection.execute("LOAD 'auto_explain'")
    except psycopg.Error:
        yield plans
        return
    for setting, value in (
        ("log_min_duration", "0"),
        ("log_nested_statements", "on"),
        ("log_level", "notice"),
    ):
        connection.execute(sql.SQL("SET auto_explain.{} = {}").format(sql.SQL(setting), sql.Literal(value)))

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        text = diagnostic.message_primary or ""
        # Only the statements run inside functions: the statement itself is explained already.
        if "Query Text: SELECT" not in text and "Query Text: --" not in text and "pgqrs_messages" in text:
            plans.append(text)

    connection.add_notice_handler(collect)
    try:
        yield plans
    finally:
        connection.remove_notice_handler(collect)
        connection.execute("SET auto_explain.log_min_duration = -1")


def _explain(connection: Connection, query: bytes, params: dict[str, Any], analyze: bool) -> str:
    """Return the statement's plan, then the plans of the statements it runs inside functions
    (it is run once more for those, in a transaction that is rolled back)."""
    options = b"(ANALYZE, BUFFERS) " if analyze else b""
    with connection.transaction(force_rollback=True):
        rows = connection.execute(b"EXPLAIN " + options + query, params).fetchall()
    with _nested_plans(connection) as nested, connection.transaction(force_rollback=True):
        connection.execute(query, params)
    return "\n".join(["\n".join(row[0] for row in rows), *nested])


def dequeue_and_ack_plans(dsn: str, schema: str, rows: int = ROWS, analyze: bool = False) -> dict[str, str]:
    """Return ``{query name: plan text}`` for the dequeue and the acknowledgements."""
    queue, worker = _prepare(dsn, schema, "plans")
    queries = _queries.for_schema(schema)
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as connection:
        _fill(connection, schema, queue.id, rows, SERVER_PAYLOAD)
        connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(schema, "pgqrs_messages")))
        ids = _lease(connection, schema, queue.id, worker.id, min(HELD, rows))
        parameters = _parameters(queue.id, worker.id, ids)
        return {name: _explain(connection, queries[name].text, parameters[name], analyze) for name in PLANNED}


def _buffers(connection: Connection, query: bytes, params: dict[str, Any]) -> int:
    """Return the shared buffers one run touches, warm: the first run also reads the catalog
    (planning, compiling the function), which says nothing about the backlog."""
    touched = []
    for _run in range(2):
        with connection.transaction(force_rollback=True):
            row = connection.execute(b"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, params).fetchone()
        assert row is not None
        document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
        plan = document[0]["Plan"]
        touched.append(int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"]))
    return touched[-1]


def _mix_priorities(connection: Connection, schema: str, queue_id: int, backlog: int) -> None:
    """Spread the visible backlog over priorities 0, 1 and 2 (the 10 emails at 0), and add as
    many delayed messages, of both types, at priority 50: the highest priority holds nothing
    visible, and a dequeue that scanned it would read it all."""
    table = sql.Identifier(schema, "pgqrs_messages")
    connection.execute(
        sql.SQL(
            "UPDATE {} SET priority = CASE WHEN payload ->> 'type' = 'email' THEN 0 ELSE id %% 3 END "
            "WHERE queue_id = %s"
        ).format(table),
        (queue_id,),
    )
    connection.execute(
        sql.SQL(
            "INSERT INTO {} (queue_id, payload, vt, priority) SELECT %s, jsonb_build_object('id', i, "
            "'type', CASE WHEN i %% 2 = 0 THEN 'email' ELSE 'sms' END), now() + interval '1 hour', 50 "
            "FROM generate_series(1, %s) AS i"
        ).format(table),
        (queue_id, backlog),
    )


def stale_statistics_reads(dsn: str, schema: str, backlog: int) -> dict[str, int]:
    """Return ``{statement: shared buffers one call touches}`` on a backlog the statistics miss."""
    small, _worker = _prepare(dsn, schema, "analyzed")
    queries = _queries.for_schema(schema)
    table = sql.Identifier(schema, "pgqrs_messages")
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as connection:
        _fill(connection, schema, small.id, BATCH, SERVER_PAYLOAD)
        connection.execute(sql.SQL("ANALYZE {}").format(table))
        queue, worker = _prepare(dsn, schema, "backlog")
        kind = f"CASE WHEN i > {backlog - 10} THEN 'email' ELSE 'sms' END"
        _fill(connection, schema, queue.id, backlog, f"jsonb_build_object('id', i, 'type', {kind})")
        _mix_priorities(connection, schema, queue.id, backlog)
        ids = _lease(connection, schema, queue.id, worker.id, BATCH)
        parameters = _parameters(queue.id, worker.id, ids)
        return {
            name: _buffers(connection, queries[name.removesuffix("_email")].text, parameters[name])
            for name in MEASURED
        }


def main(argv: list[str]) -> int:
    """Print the plans, then the reads at two backlog sizes, each in a schema of its own."""
    positional = [argument for argument in argv if not argument.startswith("--")]
    dsn = positional[0] if positional else "postgresql://postgres@127.0.0.1:5432/postgres"
    with _scratch_schema(dsn) as schema:
        for name, plan in dequeue_and_ack_plans(dsn, schema, analyze="--analyze" in argv).items():
            print(f"-- {name}\n{plan}\n")
    for backlog in (2_000, 150_000):
        with _scratch_schema(dsn) as schema:
            reads = stale_statistics_reads(dsn, schema, backlog)
        print(f"-- buffers per call, stale statistics, backlog {backlog:,}: {reads}")
    return 0


@contextmanager
def _scratch_schema(dsn: str) -> Iterator[str]:
    schema = f"pgqrs_plans_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield schema
        finally:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

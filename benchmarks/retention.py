"""Archive retention figures for docs/retention.md (run by hand, outside CI).

    python -m benchmarks.retention purge --rows 1000000 [--dsn DSN]
    python -m benchmarks.retention archiving --messages 20000 --repeat 3
    python -m benchmarks.retention metrics --rows 10000000

purge: the same archive (rows spread over past days) purged by pgqrs's batched DELETE (a plain
archive) and by dropping day partitions (archive_partitioning: daily): seconds, WAL written
(pg_current_wal_lsn before and after: on a shared server other sessions' WAL counts too, so use a
server of your own, e.g. --dsn embedded:/tmp/x), and the archive's size after (then after VACUUM).
archiving: bench workload W3a (dequeue 100 + archive_batch) on both shapes, interleaved.
metrics: queue_metrics and the dashboard's queue counts with this many archived rows.
Each run uses schemas of its own (retention_bench_*) and drops them at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

import pgqrs
from pgqrs import _dsn
from pgqrs._sync.inspector import Inspector
from pgqrs.bench import library
from pgqrs.sync import PgqrsAdmin

QUEUE = "bench"
CHUNK = 1_000_000


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(_dsn.resolve(dsn), autocommit=True)


def admin_for(dsn: str, schema: str, partitioning: str) -> PgqrsAdmin:
    """Install pgqrs afresh in `schema` (with its archive shape) and create the queue."""
    with connect(dsn) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(sql.Identifier(schema))
        )
    admin = PgqrsAdmin.connect(pgqrs.Config(dsn=dsn, schema=schema, archive_partitioning=partitioning))
    admin.install()
    admin.create_queue(QUEUE)
    return admin


def drop_schema(dsn: str, schema: str) -> None:
    with connect(dsn) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def past_days(days: int) -> list[datetime.date]:
    """The `days` UTC days before yesterday: what a purge of records older than 1 day drops whole."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return [today - datetime.timedelta(days=back) for back in range(days + 1, 1, -1)]


def fill_archive(dsn: str, schema: str, rows: int, days: int, partitioned: bool) -> None:
    """Insert `rows` archive records spread evenly over past days (with their day partitions),
    keep the counts right, then VACUUM ANALYZE: a settled archive, as months of acks leave it."""
    name = sql.Identifier(schema)
    spread = past_days(days)
    with connect(dsn) as connection:
        if partitioned:
            for day in spread:
                partition = sql.Identifier(f"pgqrs_archive_p{day:%Y%m%d}")
                connection.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {}.{} PARTITION OF {}.pgqrs_archive"
                        " FOR VALUES FROM ({}) TO ({})"
                    ).format(
                        name,
                        partition,
                        name,
                        sql.Literal(f"{day} 00:00+00"),
                        sql.Literal(f"{day + datetime.timedelta(days=1)} 00:00+00"),
                    )
                )
        queues = connection.execute(sql.SQL("SELECT id FROM {}.pgqrs_queues").format(name))
        queue_id = queues.fetchone()[0]  # type: ignore[index]
        start = f"{spread[0]} 00:00+00"
        seconds = days * 86400
        for first in range(1, rows + 1, CHUNK):  # statements of CHUNK rows: none runs for minutes
            last = min(first + CHUNK - 1, rows)
            connection.execute(
                sql.SQL(
                    "INSERT INTO {0}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at,"
                    " dequeued_at, read_ct, archived_at, processing_duration, worker_id, dead_letter_reason)"
                    " SELECT g, %(queue)s, jsonb_build_object('type', 'bench', 'n', g), t, t, 1, t, 3, 1,"
                    "        CASE WHEN g %% 1000 = 0 THEN 'bench' END"
                    " FROM generate_series(%(first)s::bigint, %(last)s::bigint) g,"
                    "      LATERAL (SELECT %(start)s::timestamptz"
                    "               + make_interval(secs => (g::float8 / %(rows)s) * %(seconds)s) AS t) s"
                ).format(name),
                {
                    "queue": queue_id,
                    "rows": rows,
                    "start": start,
                    "seconds": seconds - 1,
                    "first": first,
                    "last": last,
                },
            )
        connection.execute(
            sql.SQL(
                "INSERT INTO {0}.pgqrs_archive_counts (queue_id, shard, archived, dead_letters)"
                " SELECT queue_id, 0, count(*), count(*) FILTER (WHERE dead_letter_reason IS NOT NULL)"
                " FROM {0}.pgqrs_archive GROUP BY queue_id"
            ).format(name)
        )
        connection.execute(sql.SQL("VACUUM ANALYZE {}.pgqrs_archive").format(name))


def archive_bytes(connection: psycopg.Connection[Any], schema: str) -> int:
    """The archive's size: every partition's table and indexes (the table itself when plain)."""
    row = connection.execute(
        "SELECT CASE WHEN relkind = 'p' THEN (SELECT sum(pg_total_relation_size(relid))"
        "                                    FROM pg_partition_tree(c.oid))"
        "            ELSE pg_total_relation_size(c.oid) END"
        " FROM pg_class c WHERE c.oid = %s::regclass",
        (f'"{schema}".pgqrs_archive',),
    ).fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def measured(connection: psycopg.Connection[Any]) -> Iterator[dict[str, float]]:
    """Yield a dict that receives the seconds and WAL bytes of the block."""
    figures: dict[str, float] = {}
    lsn = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    started = time.perf_counter()
    yield figures
    figures["seconds"] = round(time.perf_counter() - started, 3)
    wal = connection.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn,)).fetchone()[0]  # type: ignore[index]
    figures["wal_bytes"] = int(wal)


def purge(dsn: str, rows: int, days: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rows": rows, "days": days}
    for shape in ("none", "daily"):
        schema = f"retention_bench_purge_{shape}"
        admin = admin_for(dsn, schema, shape)
        try:
            fill_archive(dsn, schema, rows, days, shape == "daily")
            with connect(dsn) as connection:
                before = archive_bytes(connection, schema)
                with measured(connection) as figures:
                    figures["purged"] = admin.purge_archive(older_than="1d", dead_letters=True)
                figures["bytes_before"] = before
                figures["bytes_after"] = archive_bytes(connection, schema)
                with measured(connection) as vacuumed:
                    connection.execute(sql.SQL("VACUUM {}.pgqrs_archive").format(sql.Identifier(schema)))
                figures["vacuum_seconds"] = vacuumed["seconds"]
                figures["vacuum_wal_bytes"] = vacuumed["wal_bytes"]
                figures["bytes_after_vacuum"] = archive_bytes(connection, schema)
            results["delete" if shape == "none" else "drop_partitions"] = figures
            print(shape, json.dumps(figures), flush=True)
        finally:
            admin.close()
            drop_schema(dsn, schema)
    return results


def archiving(dsn: str, messages: int, repeat: int) -> dict[str, Any]:
    """W3a on both archive shapes, alternating steps of 5 batches between them (as `pgqrs bench
    --interleave step` does): both see the same moment's load, which on a busy machine swings
    more than the difference being measured."""
    admins = {shape: admin_for(dsn, f"retention_bench_w3a_{shape}", shape) for shape in ("none", "daily")}
    rates: dict[str, list[float]] = {shape: [] for shape in admins}
    try:
        for round_number in range(repeat):
            drains, seen, spent, consumers = {}, {}, {}, []
            for shape, admin in admins.items():
                producer = admin.producer(QUEUE)
                for start in range(0, messages, 100):
                    producer.batch_enqueue(
                        [{"type": "bench", "n": n} for n in range(start, min(start + 100, messages))]
                    )
                seen[shape], spent[shape] = [], 0.0
                consumers.append(admin.consumer(QUEUE))
                drains[shape] = library.drain(consumers[-1], 100, True, None, seen[shape])
            order = list(admins) if round_number % 2 == 0 else list(reversed(admins))
            while drains:
                for shape in [shape for shape in order if shape in drains]:
                    started = time.perf_counter()
                    if next(drains[shape], StopIteration) is StopIteration:
                        del drains[shape]
                    spent[shape] += time.perf_counter() - started
            for consumer in consumers:
                consumer.close()
            for shape in admins:
                rates[shape].append(round(len(seen[shape]) / spent[shape]))
            print({shape: values[-1] for shape, values in rates.items()}, "msg/s", flush=True)
    finally:
        for shape, admin in admins.items():
            admin.close()
            drop_schema(dsn, f"retention_bench_w3a_{shape}")
    medians = {shape: statistics.median(values) for shape, values in rates.items()}
    return {
        "messages": messages,
        "runs": rates,
        "median": medians,
        "daily_over_none": round(medians["daily"] / medians["none"], 3),
    }


def metrics(dsn: str, rows: int, calls: int, partitioning: str) -> dict[str, Any]:
    schema = "retention_bench_metrics"
    admin = admin_for(dsn, schema, partitioning)
    try:
        started = time.perf_counter()
        fill_archive(dsn, schema, rows, 30, partitioning == "daily")
        filled = round(time.perf_counter() - started, 1)
        inspector = Inspector(admin.pool, schema)
        timings: dict[str, list[float]] = {
            "queue_metrics": [],
            "all_queues_metrics": [],
            "dashboard_queues": [],
        }
        calls_by_name = {
            "queue_metrics": lambda: admin.queue_metrics(QUEUE),
            "all_queues_metrics": admin.all_queues_metrics,
            "dashboard_queues": lambda: inspector.queues(None),
        }
        for _ in range(calls):
            for name, call in calls_by_name.items():
                started = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - started) * 1000)
        shown = admin.queue_metrics(QUEUE)
        return {
            "rows": rows,
            "archive_partitioning": partitioning,
            "fill_seconds": filled,
            "archived_count": shown.archived_count,
            "median_ms": {name: round(statistics.median(values), 2) for name, values in timings.items()},
            "max_ms": {name: round(max(values), 2) for name, values in timings.items()},
        }
    finally:
        admin.close()
        drop_schema(dsn, schema)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("purge", "archiving", "metrics"))
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10, help="purge: days the rows are spread over")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument(
        "--partitioning", choices=("none", "daily"), default="none", help="metrics: archive shape"
    )
    options = parser.parse_args()
    if options.what == "purge":
        result = purge(options.dsn, options.rows, options.days)
    elif options.what == "archiving":
        result = archiving(options.dsn, options.messages, options.repeat)
    else:
        result = metrics(options.dsn, options.rows, options.calls, options.partitioning)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

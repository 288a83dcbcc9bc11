"""Months of traffic in minutes: do pgqrs's tables stay bounded? (docs/retention.md; run by hand)

    python -m benchmarks.churn --messages 3000000 --dsn embedded:/tmp/churn

One queue, a steady backlog: enqueue a block of messages (batch_enqueue of 100), lease them
(dequeue_batch of 100) and acknowledge them (delete_batch; --archive: archive_batch, with
--retention purging the archive as the runtime would), over and over. Every --every messages it
prints the messages table's heap and index sizes, its live and dead rows and how many times
autovacuum has processed it. With autovacuum on (the embedded server's default) the sizes level
off: the dead rows of leases and acks are reclaimed and their space reused. The schema is
created for the run and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg
from psycopg import sql

import pgqrs
from pgqrs import _dsn
from pgqrs.sync import PgqrsAdmin

SCHEMA = "churn_bench"
BLOCK = 1000  # messages enqueued, then leased and acknowledged, per step

SIZES = """
SELECT pg_relation_size(c.oid), pg_indexes_size(c.oid), s.n_live_tup, s.n_dead_tup, s.autovacuum_count,
       current_setting('autovacuum'),
       (SELECT pg_total_relation_size(%(archive)s::regclass))
FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = %(messages)s::regclass
"""


def sample(connection: psycopg.Connection[Any], done: int, started: float) -> dict[str, Any]:
    names = {"messages": f"{SCHEMA}.pgqrs_messages", "archive": f"{SCHEMA}.pgqrs_archive"}
    row = connection.execute(SIZES, names).fetchone()
    assert row is not None
    heap, indexes, live, dead, autovacuums, autovacuum, archive = row
    return {
        "messages": done,
        "seconds": round(time.perf_counter() - started, 1),
        "heap_kb": heap // 1024,
        "indexes_kb": indexes // 1024,
        "live": live,
        "dead": dead,
        "autovacuums": autovacuums,
        "autovacuum": autovacuum,
        "archive_kb": archive // 1024,
    }


def churn(
    dsn: str, messages: int, every: int, archive: bool, retention: float | None
) -> list[dict[str, Any]]:
    with psycopg.connect(_dsn.resolve(dsn), autocommit=True) as connection:
        name = sql.Identifier(SCHEMA)
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(name))
        samples = []
        try:
            with PgqrsAdmin.connect(pgqrs.Config(dsn=dsn, schema=SCHEMA)) as admin:
                admin.install()
                queue = admin.create_queue("churn")
                producer = admin.producer(queue.queue_name)
                consumer = admin.consumer(queue.queue_name)
                acknowledge = consumer.archive_batch if archive else consumer.delete_batch
                started = time.perf_counter()
                done = 0
                while done < messages:
                    for start in range(0, BLOCK, 100):
                        producer.batch_enqueue([{"type": "churn", "n": done + start + n} for n in range(100)])
                    for _ in range(BLOCK // 100):
                        leased = consumer.dequeue_batch(100)
                        acknowledge([message.id for message in leased])
                    done += BLOCK
                    if done % every == 0:
                        if retention is not None:
                            admin.purge_archive(older_than=retention)
                        samples.append(sample(connection, done, started))
                        print(json.dumps(samples[-1]), flush=True)
                consumer.close()
        finally:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default="embedded:/tmp/pgqrs-churn")
    parser.add_argument("--messages", type=int, default=3_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--archive", action="store_true", help="acknowledge by archiving (default: delete)")
    parser.add_argument("--retention", type=float, default=None, help="--archive: purge records older (s)")
    options = parser.parse_args()
    churn(options.dsn, options.messages, options.every, options.archive, options.retention)


if __name__ == "__main__":
    main()

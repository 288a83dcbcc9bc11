"""After a full round of pgqrs work, the server connections carry no session state.

Behind a transaction pooler every client shares the server connections, so anything pgqrs left
on one (a SET, an advisory lock, a temp table, a prepared statement) would leak into the next
client. CI runs this through PgBouncer (round robin over 2 server connections) and directly.
"""

from __future__ import annotations

import time

from pgqrs import sync
from tests import support

# PgBouncer itself SETs these per client when it hands a server connection over: not a leak.
POOLER_TRACKED = [
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "standard_conforming_strings",
]


def exercise_everything(config: sync.Config) -> None:
    """Run every kind of pgqrs statement at least once, repeated past psycopg's prepare threshold."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        admin.install()
        admin.verify()
        queue = admin.create_queue("hygiene")
        producer = sync.Producer(admin.pool, queue, config)
        consumer = sync.Consumer(admin.pool, queue, config)
        for _round in range(8):
            producer.enqueue({"n": 1})
            producer.batch_enqueue([1, 2, 3])
            producer.enqueue_delayed(4, 60)
            messages = consumer.dequeue_batch(2, lock_time=0.1)
            consumer.archive(messages[0].id)
            consumer.delete_batch([messages[1].id])
            leased = consumer.dequeue()
            assert leased is not None
            consumer.extend_visibility(leased.id, 1)
            admin.queue_metrics("hygiene")
            admin.all_queues_metrics()
            admin.archive.filter_by_fk(queue.id)
        consumer.close()
        admin.remove_stale_workers(3600)
        admin.purge_archive("hygiene", older_than=0)
        admin.purge_queue("hygiene")
        admin.delete_queue("hygiene")
        admin.uninstall()
    # The archive on day partitions, and its retention (the runtime's, elected per batch).
    with sync.PgqrsAdmin.connect(config.replace(archive_partitioning="daily")) as admin:
        admin.install()
        queue = admin.create_queue("hygiene")
        sync.Producer(admin.pool, queue, config).batch_enqueue([1, 2, 3])
        with sync.Consumer(admin.pool, queue, config) as consumer:
            consumer.archive_batch([message.id for message in consumer.dequeue_batch(3)])
        admin.retention.partition_ahead()
        admin.retention.apply(0)
        admin.purge_archive(older_than=0, dead_letters=True)
        admin.delete_queue("hygiene")
        admin.uninstall()


def test_no_session_state_leaks(config: sync.Config, dsn: str) -> None:
    exercise_everything(config)
    time.sleep(0.2)
    # Several fresh connections: through a round-robin pooler they land on every server connection.
    for _probe in range(6):
        with support.connect(dsn) as connection:
            changed = connection.execute(
                "SELECT name FROM pg_settings WHERE source = 'session' AND name <> ALL(%s)",
                (POOLER_TRACKED,),
            ).fetchall()
            assert changed == [], f"settings changed by SET: {changed}"
            for name in (
                "search_path",
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
            ):
                row = connection.execute(
                    "SELECT current_setting(name), reset_val FROM pg_settings WHERE name = %s", (name,)
                ).fetchone()
                assert row is not None
                assert row[0] == row[1], f"{name} is {row[0]}, the server default is {row[1]}"
            advisory = connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            ).fetchone()
            assert advisory == (0,)
            temporary = connection.execute(
                "SELECT count(*) FROM pg_class WHERE relpersistence = 't'"
            ).fetchone()
            assert temporary == (0,)
            if config.behind_transaction_pooler:
                prepared = connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
                assert prepared == (0,)

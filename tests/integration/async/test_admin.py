"""PgqrsAdmin against a real PostgreSQL: schema management, queues, metrics, workers."""

from __future__ import annotations

import datetime

import psycopg
import pytest

import pgqrs
from tests import support

TABLES = [
    "pgqrs_archive",
    "pgqrs_archive_counts",
    "pgqrs_messages",
    "pgqrs_queues",
    "pgqrs_schedules",
    "pgqrs_schema_version",
    "pgqrs_workers",
]


def tables_in(raw: psycopg.Connection[tuple[object, ...]], schema: str) -> list[str]:
    rows = raw.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
    ).fetchall()
    return [str(row[0]) for row in rows]


async def test_install_creates_the_tables_and_is_idempotent(
    admin: pgqrs.PgqrsAdmin, raw: psycopg.Connection[tuple[object, ...]], schema: str
) -> None:
    await admin.create_queue("kept")
    await admin.install()
    await admin.install()
    assert tables_in(raw, schema) == TABLES
    await admin.verify()
    assert [queue.queue_name for queue in await admin.list_queues()] == ["kept"]


async def test_archive_keeps_the_worker_id_after_the_worker_is_removed(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    await pgqrs.Producer(admin.pool, queue).enqueue({"n": 1})
    consumer = pgqrs.Consumer(admin.pool, queue)
    message = await consumer.dequeue()
    assert message is not None and await consumer.archive(message.id)
    await consumer.close()
    assert await admin.remove_stale_workers(0.0) == 1
    record = await admin.archive.get_by_original_id(queue.id, message.id)
    assert record.worker_id == consumer.worker_id


async def test_install_into_a_missing_schema_names_it_and_the_fix(dsn: str) -> None:
    config = pgqrs.Config.from_dsn_with_schema(dsn, "pgqrs_no_such_schema")
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        with pytest.raises(pgqrs.SchemaError) as caught:
            await admin.install()
    assert "pgqrs_no_such_schema" in str(caught.value)
    assert 'CREATE SCHEMA IF NOT EXISTS "pgqrs_no_such_schema";' in str(caught.value)


async def test_verify_lists_exactly_what_is_missing_or_different(
    admin: pgqrs.PgqrsAdmin, raw: psycopg.Connection[tuple[object, ...]], schema: str
) -> None:
    raw.execute(f'DROP INDEX "{schema}".pgqrs_messages_dequeue_idx')
    raw.execute(f'ALTER TABLE "{schema}".pgqrs_archive ALTER COLUMN read_ct TYPE bigint')
    raw.execute(f'ALTER TABLE "{schema}".pgqrs_workers DROP COLUMN hostname')
    with pytest.raises(pgqrs.SchemaError) as caught:
        await admin.verify()
    assert caught.value.problems == [
        f"column {schema}.pgqrs_workers.hostname is missing",
        f"column {schema}.pgqrs_archive.read_ct is bigint NOT NULL, expected integer NOT NULL",
        "index pgqrs_messages_dequeue_idx is missing",
    ]


async def test_verify_before_install_lists_every_table(config: pgqrs.Config) -> None:
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        with pytest.raises(pgqrs.SchemaError) as caught:
            await admin.verify()
    missing_tables = [problem for problem in caught.value.problems if problem.startswith("table ")]
    assert missing_tables == [
        f"table {config.schema}.{name} is missing"
        for name in [
            "pgqrs_schema_version",
            "pgqrs_queues",
            "pgqrs_workers",
            "pgqrs_messages",
            "pgqrs_archive",
            "pgqrs_archive_counts",
            "pgqrs_schedules",
        ]
    ]


async def test_verify_reports_a_missing_schema(dsn: str) -> None:
    config = pgqrs.Config.from_dsn_with_schema(dsn, "pgqrs_no_such_schema")
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        with pytest.raises(pgqrs.SchemaError) as caught:
            await admin.verify()
    assert caught.value.problems == ["schema 'pgqrs_no_such_schema' does not exist"]


async def test_uninstall_removes_pgqrs_objects_only(
    admin: pgqrs.PgqrsAdmin, raw: psycopg.Connection[tuple[object, ...]], schema: str
) -> None:
    raw.execute(f'CREATE TABLE "{schema}".users_own_table (id int)')
    queue = await admin.create_queue("jobs")
    await pgqrs.Producer(admin.pool, queue).enqueue({"x": 1})
    await admin.uninstall()
    assert tables_in(raw, schema) == ["users_own_table"]
    with pytest.raises(pgqrs.SchemaError, match="not installed"):
        await admin.list_queues()
    await admin.install()
    await admin.verify()


async def test_create_queue_and_duplicate(admin: pgqrs.PgqrsAdmin) -> None:
    queue = await admin.create_queue("emails")
    assert queue.queue_name == "emails"
    assert queue.schema == admin.schema
    assert isinstance(queue.created_at, datetime.datetime)
    with pytest.raises(pgqrs.QueueAlreadyExists) as caught:
        await admin.create_queue("emails")
    assert caught.value.queue == "emails"
    assert await admin.get_queue("emails") == queue
    assert await admin.create_queue("emails", exist_ok=True) == queue


@pytest.mark.parametrize("name", ["", "a b", "x'; DROP TABLE t; --", "-leading", "é", "q" * 64, "a/*c*/"])
async def test_create_queue_refuses_bad_names_before_any_sql(admin: pgqrs.PgqrsAdmin, name: str) -> None:
    with pytest.raises(pgqrs.ValidationError):
        await admin.create_queue(name)
    assert await admin.list_queues() == []


async def test_get_queue_missing(admin: pgqrs.PgqrsAdmin) -> None:
    with pytest.raises(pgqrs.QueueNotFound) as caught:
        await admin.get_queue("nope")
    assert caught.value.queue == "nope"
    assert isinstance(caught.value, pgqrs.NotFoundError)


async def test_list_queues_in_creation_order(admin: pgqrs.PgqrsAdmin) -> None:
    for name in ["b", "a", "c"]:
        await admin.create_queue(name)
    assert [queue.queue_name for queue in await admin.list_queues()] == ["b", "a", "c"]


async def test_delete_queue_refuses_while_messages_remain(admin: pgqrs.PgqrsAdmin, dsn: str) -> None:
    queue = await admin.create_queue("busy")
    producer = pgqrs.Producer(admin.pool, queue)
    await producer.batch_enqueue([1, 2, 3])
    with pytest.raises(pgqrs.QueueNotEmpty) as caught:
        await admin.delete_queue("busy")
    assert caught.value.count == 3
    assert "purge" in str(caught.value)
    assert await admin.purge_queue("busy") == 3
    await admin.delete_queue("busy")
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.get_queue("busy")


async def test_delete_queue_takes_its_archive_and_workers(admin: pgqrs.PgqrsAdmin) -> None:
    queue = await admin.create_queue("done")
    await pgqrs.Producer(admin.pool, queue).enqueue({"n": 1})
    consumer = pgqrs.Consumer(admin.pool, queue)
    message = await consumer.dequeue()
    assert message is not None
    assert await consumer.archive(message.id)
    await admin.delete_queue("done")
    assert await admin.archive.count() == 0
    assert await admin.workers.count() == 0


async def test_delete_missing_queue(admin: pgqrs.PgqrsAdmin) -> None:
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.delete_queue("ghost")


async def test_purge_archive(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    other = await admin.create_queue("other")
    for target in (queue, other):
        await pgqrs.Producer(admin.pool, target).batch_enqueue([1, 2])
        consumer = pgqrs.Consumer(admin.pool, target)
        await consumer.archive_batch([message.id for message in await consumer.dequeue_batch(10)])
    assert await admin.purge_archive("jobs") == 2
    assert await admin.archive.count_by_fk(queue.id) == 0
    assert await admin.archive.count_by_fk(other.id) == 2


async def test_queue_metrics_counts_each_state(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    producer = pgqrs.Producer(admin.pool, queue)
    await producer.batch_enqueue([1, 2, 3, 4])
    await producer.enqueue_delayed({"later": True}, 3600)
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(2, lock_time=60)
    assert await consumer.archive(leased[0].id)
    metrics = await admin.queue_metrics("jobs")
    assert metrics.queue_name == "jobs"
    assert (metrics.total_messages, metrics.pending_count, metrics.locked_count) == (4, 2, 1)
    assert (metrics.delayed_count, metrics.archived_count, metrics.dead_letter_count) == (1, 1, 0)
    assert metrics.oldest_pending_at is not None
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.queue_metrics("missing")


async def test_all_queues_metrics(admin: pgqrs.PgqrsAdmin) -> None:
    empty = await admin.create_queue("empty")
    full = await admin.create_queue("full")
    await pgqrs.Producer(admin.pool, full).batch_enqueue(list(range(7)))
    metrics = {item.queue_name: item for item in await admin.all_queues_metrics()}
    assert set(metrics) == {empty.queue_name, full.queue_name}
    assert metrics["empty"].total_messages == 0
    assert metrics["empty"].oldest_pending_at is None
    assert metrics["full"].pending_count == 7


async def test_worker_management(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str) -> None:
    other = await admin.create_queue("other")
    first = pgqrs.Consumer(admin.pool, queue)
    second = pgqrs.Consumer(admin.pool, other)
    worker = await first.register()
    await second.register()
    assert [item.id for item in await admin.list_workers("jobs")] == [worker.id]
    assert [item.id for item in await admin.list_workers(other)] == [second.worker_id]
    assert len(await admin.list_workers()) == 2
    assert (await admin.get_worker(worker.id)).status == "running"
    with pytest.raises(pgqrs.WorkerNotFound):
        await admin.get_worker(worker.id + 1000)
    with support.connect(dsn) as raw:
        raw.execute(
            f"UPDATE \"{admin.schema}\".pgqrs_workers SET heartbeat_at = now() - interval '1 hour' "
            "WHERE id = %s",
            (worker.id,),
        )
    assert await admin.remove_stale_workers(datetime.timedelta(minutes=30)) == 1
    assert [item.id for item in await admin.list_workers()] == [second.worker_id]
    assert await admin.remove_stale_workers(0.0) in (0, 1)


async def test_remove_stale_workers_refuses_negative(admin: pgqrs.PgqrsAdmin) -> None:
    with pytest.raises(pgqrs.ValidationError):
        await admin.remove_stale_workers(-5)


async def test_producer_and_consumer_helpers(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    producer = await admin.producer("jobs")
    consumer = await admin.consumer("jobs")
    sent = await producer.enqueue({"hello": "world"})
    received = await consumer.dequeue()
    assert received is not None
    assert received.id == sent.id


async def test_install_roles_creates_the_three_groups(admin: pgqrs.PgqrsAdmin, dsn: str) -> None:
    prefix = admin.schema
    names = [f"{prefix}_{kind}" for kind in ("producer", "consumer", "observer")]
    assert f'"{admin.schema}".pgqrs_messages' in admin.roles_sql(prefix)
    try:
        await admin.install_roles(prefix)
        await admin.install_roles(prefix)
        assert support.count(dsn, "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", names) == 3
    finally:
        with support.connect(dsn) as raw:
            for name in names:
                if raw.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    raw.execute(f'DROP OWNED BY "{name}"')
                    raw.execute(f'DROP ROLE "{name}"')

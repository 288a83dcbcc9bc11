"""Archive retention: purging by age, the runtime's retention, and the partitioned archive."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import psycopg
import pytest

import pgqrs
from pgqrs import _migrations

Raw = psycopg.Connection[tuple[object, ...]]
DAY = datetime.timedelta(days=1)


async def archive(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, count: int, dead: int = 0) -> None:
    """Archive `count` messages of the queue, then dead-letter `dead` more."""
    await pgqrs.Producer(admin.pool, queue).batch_enqueue([{"n": n} for n in range(count + dead)])
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(count + dead, lock_time=30)
    assert all(await consumer.archive_batch([message.id for message in leased[:count]]))
    buried = [(message.id, "gave up", None) for message in leased[count:]]
    assert all(await consumer.dead_letter_batch(buried))
    await consumer.close()


def age(raw: Raw, schema: str, condition: str, days: int) -> None:
    """Make the archive records matching `condition` `days` days older."""
    raw.execute(
        f'UPDATE "{schema}".pgqrs_archive SET archived_at = archived_at - make_interval(days => %s) '
        f"WHERE {condition}",
        (days,),
    )


def counts(raw: Raw, schema: str, queue_id: int) -> tuple[int, int, int, int]:
    """(records, dead letters) as kept for metrics, then as really in the archive."""
    kept = raw.execute(
        "SELECT coalesce(sum(archived), 0), coalesce(sum(dead_letters), 0) "
        f'FROM "{schema}".pgqrs_archive_counts WHERE queue_id = %s',
        (queue_id,),
    ).fetchone()
    real = raw.execute(
        f"SELECT count(*), count(*) FILTER (WHERE dead_letter_reason IS NOT NULL) "
        f'FROM "{schema}".pgqrs_archive WHERE queue_id = %s',
        (queue_id,),
    ).fetchone()
    assert kept is not None and real is not None
    return int(str(kept[0])), int(str(kept[1])), int(str(real[0])), int(str(real[1]))


def partitions(raw: Raw, schema: str) -> list[str]:
    rows = raw.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
        (f'"{schema}".pgqrs_archive',),
    ).fetchall()
    return [str(row[0]) for row in rows]


def day_partition(day: datetime.date) -> str:
    return f"pgqrs_archive_p{day:%Y%m%d}"


def today(raw: Raw) -> datetime.date:
    row = raw.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()
    assert row is not None and isinstance(row[0], datetime.date)
    return row[0]


@pytest.fixture
def daily(config: pgqrs.Config) -> pgqrs.Config:
    return config.replace(archive_partitioning="daily")


@pytest.fixture
async def partitioned(daily: pgqrs.Config) -> Any:
    admin = await pgqrs.PgqrsAdmin.connect(daily)
    await admin.install()
    yield admin
    await admin.close()


async def test_purge_by_age_of_one_queue_keeps_newer_records_other_queues_and_dead_letters(
    admin: pgqrs.PgqrsAdmin, raw: Raw
) -> None:
    jobs = await admin.create_queue("jobs")
    other = await admin.create_queue("other")
    await archive(admin, jobs, 4, dead=1)
    await archive(admin, other, 2)
    old = f"original_msg_id IN (1, 2) OR dead_letter_reason IS NOT NULL OR queue_id = {other.id}"
    age(raw, admin.schema, old, 3)
    assert await admin.purge_archive("jobs", older_than=DAY) == 2
    assert counts(raw, admin.schema, jobs.id) == (3, 1, 3, 1)  # the old dead letter is kept
    assert counts(raw, admin.schema, other.id) == (2, 0, 2, 0)
    assert await admin.purge_archive("jobs", older_than="1d", dead_letters=True) == 1
    assert counts(raw, admin.schema, jobs.id) == (2, 0, 2, 0)
    assert (await admin.queue_metrics("jobs")).archived_count == 2


async def test_purge_by_age_of_every_queue(admin: pgqrs.PgqrsAdmin, raw: Raw) -> None:
    jobs = await admin.create_queue("jobs")
    other = await admin.create_queue("other")
    await archive(admin, jobs, 3, dead=1)
    await archive(admin, other, 3)
    age(raw, admin.schema, "true", 2)
    assert await admin.purge_archive(older_than=datetime.timedelta(days=3)) == 0
    assert await admin.purge_archive(older_than=86400) == 6
    assert counts(raw, admin.schema, jobs.id) == (1, 1, 1, 1)
    assert counts(raw, admin.schema, other.id) == (0, 0, 0, 0)


async def test_purge_archive_refuses_bad_input_and_changes_nothing(admin: pgqrs.PgqrsAdmin, raw: Raw) -> None:
    jobs = await admin.create_queue("jobs")
    await archive(admin, jobs, 2)
    age(raw, admin.schema, "true", 2)
    with pytest.raises(pgqrs.ValidationError, match="needs a queue, or older_than"):
        await admin.purge_archive()
    with pytest.raises(pgqrs.ValidationError, match="duration"):
        await admin.purge_archive("jobs", older_than="two days")
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.purge_archive("nope", older_than="1d")
    assert counts(raw, admin.schema, jobs.id) == (2, 0, 2, 0)


async def test_purging_goes_in_bounded_batches_and_skips_rows_others_hold(
    admin: pgqrs.PgqrsAdmin, raw: Raw, dsn: str
) -> None:
    jobs = await admin.create_queue("jobs")
    await archive(admin, jobs, 5)
    age(raw, admin.schema, "true", 2)
    one_batch = await admin.retention._database.scalar(
        "retention_purge_batch", {"queue_id": jobs.id, "older_than": 86400, "dead_letters": False, "limit": 2}
    )
    assert one_batch == 2
    with psycopg.connect(dsn) as holder:  # a transaction holding one old record
        holder.execute(f'SELECT 1 FROM "{admin.schema}".pgqrs_archive WHERE original_msg_id = 5 FOR UPDATE')
        assert await admin.retention.purge([jobs.id], 86400, False, batch_size=2) == 2
    assert counts(raw, admin.schema, jobs.id) == (1, 0, 1, 0)


async def test_runtime_retention_is_one_runtime_at_a_time(
    admin: pgqrs.PgqrsAdmin, raw: Raw, dsn: str
) -> None:
    jobs = await admin.create_queue("jobs")
    await archive(admin, jobs, 3, dead=1)
    age(raw, admin.schema, "true", 2)
    with psycopg.connect(dsn) as other_runtime:  # holds the retention lock for one batch
        other_runtime.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('pgqrs archive retention ' || %s, 0))",
            (admin.schema,),
        )
        assert await admin.retention.apply(86400) is None
        assert counts(raw, admin.schema, jobs.id) == (4, 1, 4, 1)
    # A runtime that is stopping ends its round between batches.
    assert await admin.retention.apply(86400, batch_size=2, stopping=lambda: True) == 0
    assert await admin.retention.apply(86400, batch_size=2) == 3
    assert counts(raw, admin.schema, jobs.id) == (1, 1, 1, 1)  # dead letters are kept


async def test_the_runtime_applies_archive_retention(config: pgqrs.Config, raw: Raw) -> None:
    settings = config.replace(archive_retention="1d", heartbeat_interval=0.05, poll_interval=0.05)
    async with await pgqrs.PgqrsAdmin.connect(settings) as admin:
        await admin.install()
        old = await admin.create_queue("old")
        await archive(admin, old, 3)
        age(raw, admin.schema, "true", 2)
        await admin.create_queue("jobs")
        await pgqrs.Producer(admin.pool, await admin.get_queue("jobs")).enqueue({"n": 1})
    app = pgqrs.App()

    @app.handler("jobs")
    async def work(message: pgqrs.QueueMessage) -> None:
        for _ in range(400):  # up to 20 s for a housekeeping round
            if counts(raw, settings.schema, old.id)[2] == 0:
                break
            await asyncio.sleep(0.05)
        app.stop()

    await app.run(settings)
    assert counts(raw, settings.schema, old.id) == (0, 0, 0, 0)


async def test_a_partitioned_install_archives_dead_letters_requeues_and_counts(
    partitioned: pgqrs.PgqrsAdmin, raw: Raw
) -> None:
    await partitioned.verify()
    first = today(raw)
    expected = [day_partition(first + datetime.timedelta(days=n)) for n in range(8)]
    assert partitions(raw, partitioned.schema) == ["pgqrs_archive_default", *expected]
    jobs = await partitioned.create_queue("jobs")
    await archive(partitioned, jobs, 3, dead=2)
    metrics = await partitioned.queue_metrics("jobs")
    assert (metrics.archived_count, metrics.dead_letter_count) == (5, 2)
    letters = await partitioned.dead_letters("jobs")
    assert len(letters) == 2
    moved = await partitioned.requeue_dead_letters("jobs", [letters[0].id])
    assert list(moved) == [letters[0].id]
    assert counts(raw, partitioned.schema, jobs.id) == (4, 1, 4, 1)
    record = await partitioned.archive.get(letters[1].id)
    assert record.dead_letter_reason == "gave up"
    # A second install is a no-op on the partitioned archive.
    await partitioned.install()
    await partitioned.verify()
    schema = f'"{partitioned.schema}"'
    raw.execute(f"ALTER TABLE {schema}.pgqrs_archive DETACH PARTITION {schema}.pgqrs_archive_default")
    with pytest.raises(pgqrs.SchemaError, match="pgqrs_archive has no default partition"):
        await partitioned.verify()
    raw.execute(f"DROP TABLE {schema}.pgqrs_archive_default")
    await partitioned.uninstall()
    left = raw.execute(
        "SELECT count(*) FROM pg_class WHERE relnamespace = %s::regnamespace", (schema,)
    ).fetchone()
    assert left == (0,)


async def test_retention_drops_whole_day_partitions_and_keeps_dead_letters(
    partitioned: pgqrs.PgqrsAdmin, raw: Raw
) -> None:
    schema = partitioned.schema
    jobs = await partitioned.create_queue("jobs")
    await archive(partitioned, jobs, 4, dead=1)
    old_day = today(raw) - datetime.timedelta(days=3)
    raw.execute(
        f'CREATE TABLE "{schema}".{day_partition(old_day)} PARTITION OF "{schema}".pgqrs_archive '
        f"FOR VALUES FROM ('{old_day} 00:00+00') TO ('{old_day + DAY} 00:00+00')"
    )
    age(raw, schema, "original_msg_id IN (1, 2) OR dead_letter_reason IS NOT NULL", 3)
    assert day_partition(old_day) in partitions(raw, schema)
    assert await partitioned.retention.apply(86400) == 2
    assert day_partition(old_day) not in partitions(raw, schema)
    assert counts(raw, schema, jobs.id) == (3, 1, 3, 1)
    kept = raw.execute(
        f'SELECT tableoid::regclass::text FROM "{schema}".pgqrs_archive WHERE dead_letter_reason IS NOT NULL'
    ).fetchone()
    assert kept is not None and str(kept[0]).endswith("pgqrs_archive_default")
    # Asked explicitly, the old dead letter goes too (from the default partition).
    assert await partitioned.purge_archive(older_than="1d", dead_letters=True) == 1
    assert counts(raw, schema, jobs.id) == (2, 0, 2, 0)
    await partitioned.verify()


async def test_records_of_a_day_without_partition_move_into_it_when_it_is_created(
    partitioned: pgqrs.PgqrsAdmin, raw: Raw
) -> None:
    schema = partitioned.schema
    current = day_partition(today(raw))
    raw.execute(f'DROP TABLE "{schema}".{current}')
    jobs = await partitioned.create_queue("jobs")
    await archive(partitioned, jobs, 2)
    where = f'SELECT DISTINCT tableoid::regclass::text FROM "{schema}".pgqrs_archive'
    assert [str(row[0]).split(".")[-1] for row in raw.execute(where).fetchall()] == ["pgqrs_archive_default"]
    assert await partitioned.retention.partition_ahead() == 1
    assert [str(row[0]).split(".")[-1] for row in raw.execute(where).fetchall()] == [current]
    assert counts(raw, schema, jobs.id) == (2, 0, 2, 0)


async def test_partitioning_an_archive_that_holds_records_is_refused(
    admin: pgqrs.PgqrsAdmin, daily: pgqrs.Config, raw: Raw
) -> None:
    jobs = await admin.create_queue("jobs")
    await archive(admin, jobs, 1)
    async with await pgqrs.PgqrsAdmin.connect(daily) as asked:
        with pytest.raises(pgqrs.SchemaError, match="holds records"):
            await asked.install()
        assert not await asked.retention.partitioned()
    assert counts(raw, admin.schema, jobs.id) == (1, 0, 1, 0)


async def test_an_upgraded_schema_with_an_empty_archive_can_be_partitioned(
    admin: pgqrs.PgqrsAdmin, daily: pgqrs.Config, raw: Raw
) -> None:
    jobs = await admin.create_queue("jobs")
    await archive(admin, jobs, 2)
    assert await admin.purge_archive("jobs") == 2
    async with await pgqrs.PgqrsAdmin.connect(daily) as asked:
        await asked.install()
        assert await asked.retention.partitioned()
        await asked.verify()
        await archive(asked, jobs, 1)
        # Ids continue after the old table's.
        records = await asked.archive.filter_by_fk(jobs.id)
        assert [record.id for record in records] == [3]
    assert await admin.schema_version() == _migrations.latest_version()

"""Numbered migrations: fresh installs, upgrades from every released schema, drift, and locks.

The released schemas are kept as fixtures (tests/fixtures/schema_v1.sql, schema_v2.sql: the
install scripts of those releases, verbatim), so an upgrade is tested from what users really have.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import pgqrs
from pgqrs import _migrations, _queries

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
Raw = psycopg.Connection[tuple[object, ...]]


def install_release(raw: Raw, schema: str, version: int) -> None:
    """Create the schema exactly as the release with schema `version` installed it."""
    text = (FIXTURES / f"schema_v{version}.sql").read_text(encoding="utf-8")
    raw.execute(_queries.compose(text, schema))


def versions(raw: Raw, schema: str) -> list[int]:
    rows = raw.execute(f'SELECT version FROM "{schema}".pgqrs_schema_version ORDER BY version').fetchall()
    return [int(str(row[0])) for row in rows]


def fill_release(raw: Raw, schema: str) -> None:
    """Put a queue, a worker, waiting and leased messages and archive records in an old schema."""
    table = f'"{schema}"'
    raw.execute(f"INSERT INTO {table}.pgqrs_queues (queue_name) VALUES ('old'), ('other')")
    raw.execute(f"INSERT INTO {table}.pgqrs_workers (queue_id, hostname, pid) VALUES (1, 'h', 1)")
    raw.execute(
        f"INSERT INTO {table}.pgqrs_messages (queue_id, payload) "
        "SELECT 1, jsonb_build_object('n', i, 'type', 'email') FROM generate_series(1, 5) AS i"
    )
    raw.execute(
        f"UPDATE {table}.pgqrs_messages SET worker_id = 1, read_ct = 1, dequeued_at = now(), "
        "vt = now() + interval '1 hour' WHERE id = 1"
    )
    raw.execute(
        f"INSERT INTO {table}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, read_ct, "
        "dead_letter_reason) VALUES (90, 1, '{\"n\": 90}', now(), 1, NULL), "
        "(91, 1, '{\"n\": 91}', now(), 6, 'poison'), (92, 2, '{\"n\": 92}', now(), 1, NULL)"
    )


async def test_a_fresh_install_applies_every_migration_once(admin: pgqrs.PgqrsAdmin, raw: Raw) -> None:
    latest = _migrations.latest_version()
    assert versions(raw, admin.schema) == list(range(1, latest + 1))
    assert await admin.schema_version() == latest
    assert await admin.migrate() == []
    assert await admin.migration_sql() == ""
    await admin.verify()


@pytest.mark.parametrize("release", [1, 2])
async def test_upgrade_from_a_released_schema_keeps_the_data(
    config: pgqrs.Config, raw: Raw, schema: str, release: int
) -> None:
    install_release(raw, schema, release)
    fill_release(raw, schema)
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        with pytest.raises(pgqrs.SchemaError) as caught:
            await admin.verify()
        assert f"schema version is {release}, this pgqrs expects" in str(caught.value)
        assert await admin.migrate() == list(range(release + 1, _migrations.latest_version() + 1))
        await admin.verify()
        queue = await admin.get_queue("old")
        messages = await admin.messages.filter_by_fk(queue.id)
        assert sorted(message.payload["n"] for message in messages) == [1, 2, 3, 4, 5]
        held = await admin.messages.get(1)
        assert (held.worker_id, held.read_ct) == (1, 1)
        metrics = await admin.queue_metrics("old")
        assert (metrics.total_messages, metrics.locked_count, metrics.pending_count) == (5, 1, 4)
        # The archive counts start from what the archive held.
        assert (metrics.archived_count, metrics.dead_letter_count) == (2, 1)
        assert (await admin.queue_metrics("other")).archived_count == 1
        # Version 6: the old messages have priority 0 and no key; new ones use both.
        assert {(message.priority, message.dedup_key) for message in messages} == {(0, None)}
        producer = pgqrs.Producer(admin.pool, queue, config)
        urgent = await producer.enqueue({"n": 6, "type": "email"}, priority=10, dedup_key="six")
        assert (await producer.enqueue({"n": 6}, dedup_key="six")).id == urgent.id
        # The upgraded schema works: lease by type (priority first), acknowledge, count.
        consumer = pgqrs.Consumer(admin.pool, queue, config)
        leased = await consumer.dequeue_batch(10, message_type="email")
        assert [message.payload["n"] for message in leased] == [6, 2, 3, 4, 5]
        assert all(await consumer.archive_batch([message.id for message in leased]))
        assert (await admin.queue_metrics("old")).archived_count == 7
        assert (await producer.enqueue({"n": 6}, dedup_key="six")).id != urgent.id  # archived: free
        await consumer.close()
    assert versions(raw, schema)[-1] == _migrations.latest_version()


async def test_the_printed_sql_is_what_migrate_runs(config: pgqrs.Config, raw: Raw, schema: str) -> None:
    install_release(raw, schema, 1)
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        script = await admin.migration_sql()
        assert script.count("BEGIN;") == _migrations.latest_version() - 1
        assert "pgqrs migration 0002_" in script and "pgqrs migration 0001_" not in script
        raw.execute(script)  # as a user's own migration tool would
        assert await admin.migrate() == []
        await admin.verify()


async def test_a_fresh_install_script_needs_no_connection(
    config: pgqrs.Config, raw: Raw, schema: str
) -> None:
    raw.execute(_migrations.script(schema, None))
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.verify()
        assert await admin.migrate() == []


async def test_install_on_a_current_schema_takes_no_table_lock(config: pgqrs.Config, raw: Raw) -> None:
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
    tables = ["pgqrs_queues", "pgqrs_workers", "pgqrs_messages", "pgqrs_archive", "pgqrs_archive_counts"]
    quick = config.replace(connection_timeout_seconds=3)
    with raw.transaction():
        # Writers hold their tables (an anti-wraparound vacuum, a long batch): any DDL or lock
        # on them would wait here, and install would time out.
        for table in tables:
            raw.execute(f'LOCK TABLE "{config.schema}".{table} IN ACCESS EXCLUSIVE MODE')
        async with await pgqrs.PgqrsAdmin.connect(quick) as admin:
            await admin.install()
            assert await admin.migrate() == []


async def test_a_schema_newer_than_this_pgqrs_is_refused(admin: pgqrs.PgqrsAdmin, raw: Raw) -> None:
    newer = _migrations.latest_version() + 1
    raw.execute(f'INSERT INTO "{admin.schema}".pgqrs_schema_version (version) VALUES (%s)', (newer,))
    for call in (admin.install, admin.migrate, admin.migration_sql):
        with pytest.raises(pgqrs.SchemaError, match=f"version {newer}, newer than this pgqrs"):
            await call()
    with pytest.raises(pgqrs.SchemaError) as caught:
        await admin.verify()
    assert caught.value.problems == [
        f"schema version is {newer}, newer than this pgqrs ({newer - 1}): upgrade pgqrs"
    ]


async def test_verify_reports_drift_by_name(admin: pgqrs.PgqrsAdmin, raw: Raw) -> None:
    schema = admin.schema
    raw.execute(f'ALTER TABLE "{schema}".pgqrs_messages ADD COLUMN note text')
    raw.execute(f'CREATE INDEX pgqrs_messages_note_idx ON "{schema}".pgqrs_messages (note)')
    raw.execute(f'ALTER TABLE "{schema}".pgqrs_queues ADD CONSTRAINT pgqrs_queues_short CHECK (id > 0)')
    raw.execute(f'DROP FUNCTION "{schema}".pgqrs_dequeue')
    with pytest.raises(pgqrs.SchemaError) as caught:
        await admin.verify()
    assert caught.value.problems == [
        f"function {schema}.pgqrs_dequeue is missing",
        "constraint pgqrs_queues_short is not part of pgqrs (extra)",
        "index pgqrs_messages_note_idx is not part of pgqrs (extra)",
        f"column {schema}.pgqrs_messages.note is not part of pgqrs (extra)",
    ]


async def test_an_upgraded_schema_takes_retention_and_a_partitioned_archive(
    config: pgqrs.Config, raw: Raw, schema: str
) -> None:
    install_release(raw, schema, 2)
    fill_release(raw, schema)
    daily = config.replace(archive_partitioning="daily")
    async with await pgqrs.PgqrsAdmin.connect(daily) as admin:
        # Upgraded, but its archive holds records: it stays as it is, and says why.
        with pytest.raises(pgqrs.SchemaError, match="holds records"):
            await admin.install()
        await admin.verify()
        raw.execute(f'UPDATE "{schema}".pgqrs_archive SET archived_at = now() - interval \'2 days\'')
        assert await admin.purge_archive(older_than="1d") == 2  # the dead letter is kept
        assert await admin.purge_archive(older_than="1d", dead_letters=True) == 1
        await admin.install()
        assert await admin.retention.partitioned()
        await admin.verify()
        assert (await admin.queue_metrics("old")).archived_count == 0

"""`pgqrs archive purge --older-than` and `pgqrs install --archive-partitioning daily`."""

from __future__ import annotations

import psycopg

from pgqrs import sync
from tests.cli import runner


def archive(admin: sync.PgqrsAdmin, queue: sync.QueueInfo, count: int, dead: int) -> None:
    sync.Producer(admin.pool, queue, admin.config).batch_enqueue([{"n": n} for n in range(count + dead)])
    with sync.Consumer(admin.pool, queue, admin.config) as consumer:
        leased = consumer.dequeue_batch(count + dead)
        consumer.archive_batch([message.id for message in leased[:count]])
        consumer.dead_letter_batch([(message.id, "gave up", None) for message in leased[count:]])


def test_purge_older_than_keeps_dead_letters_unless_asked(
    cli: runner.Cli, admin: sync.PgqrsAdmin, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    jobs = admin.create_queue("jobs")
    archive(admin, jobs, 3, dead=1)
    archive(admin, admin.create_queue("other"), 2, dead=0)
    raw.execute(f"UPDATE \"{admin.schema}\".pgqrs_archive SET archived_at = now() - interval '8 days'")
    # One after the other: each purge sees what the previous one left.
    one = cli.run("archive", "purge", "jobs", "--older-than", "7d")
    recent = cli.run("archive", "purge", "--older-than", "9d")
    every = cli.run("--format", "json", "archive", "purge", "--older-than", "1w")
    dead = cli.run("archive", "purge", "--older-than", "168h", "--dead-letters")
    assert one.expect(0).stdout == "3 archive record(s) purged\n"
    assert recent.expect(0).stdout == "0 archive record(s) purged\n"
    assert every.expect(0).json() == {
        "queue": None,
        "older_than_seconds": 604800.0,
        "dead_letters": False,
        "purged": 2,
    }
    assert dead.expect(0).stdout == "1 archive record(s) purged\n"
    assert admin.queue_metrics("jobs").archived_count == 0


def test_purge_needs_a_valid_age(offline: runner.Cli) -> None:
    missing, bad = offline.many(
        ["archive", "purge", "jobs"],
        ["archive", "purge", "--older-than", "soon"],
    )
    assert missing.expect(2).error == "pgqrs: error: give --older-than (for example --older-than 7d)"
    assert "--older-than must be a duration such as 7d" in bad.expect(2).error


def test_install_with_a_partitioned_archive(
    cli: runner.Cli, schema: str, raw: psycopg.Connection[tuple[object, ...]]
) -> None:
    cli.run("install", "--archive-partitioning", "daily").expect(0)
    verified, wrong = cli.many(["verify"], ["install", "--archive-partitioning", "weekly"])
    assert verified.expect(0).stdout == f"pgqrs schema {schema!r} is complete\n"
    assert "must be one of none, daily" in wrong.expect(2).error
    kind = raw.execute(
        "SELECT relkind FROM pg_class WHERE oid = %s::regclass", (f'"{schema}".pgqrs_archive',)
    ).fetchone()
    assert kind == ("p",)

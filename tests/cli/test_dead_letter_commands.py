"""`pgqrs archive dead-letters` and `pgqrs archive requeue`."""

from __future__ import annotations

from pgqrs import sync
from tests.cli import runner


def bury(admin: sync.PgqrsAdmin, queue: sync.QueueInfo, count: int) -> None:
    sync.Producer(admin.pool, queue, admin.config).batch_enqueue([{"n": n} for n in range(count)])
    with sync.Consumer(admin.pool, queue, admin.config) as consumer:
        leased = consumer.dequeue_batch(count)
        consumer.dead_letter_batch([(message.id, "gave up", "ValueError: bad") for message in leased])


def test_dead_letters_lists_and_pages(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    bury(admin, admin.create_queue("jobs"), 3)
    records = admin.dead_letters("jobs")
    listed, first, rest, none = cli.many(
        ["archive", "dead-letters", "jobs"],
        ["--format", "json", "archive", "dead-letters", "jobs", "-n", "2"],
        ["--format", "json", "archive", "dead-letters", "jobs", "--after", str(records[1].id)],
        ["archive", "dead-letters", "nope"],
    )
    header, _rule, *rows = listed.expect(0).stdout.splitlines()
    assert header.split() == ["id", "msg_id", "read_ct", "archived_at", "reason"]
    assert [int(row.split()[0]) for row in rows] == [record.id for record in records]
    assert [record["id"] for record in first.expect(0).json()] == [records[0].id, records[1].id]
    assert first.json()[0]["last_error"] == "ValueError: bad"
    assert [record["id"] for record in rest.expect(0).json()] == [records[2].id]
    assert none.expect(1).error == "pgqrs: error: queue 'nope' does not exist"


def test_requeue_by_id_or_all(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    bury(admin, jobs, 3)
    records = admin.dead_letters("jobs")
    one = cli.run("--format", "json", "archive", "requeue", "jobs", str(records[0].id)).expect(0).json()
    assert one["requeued"] == 1 and one["messages"][0]["id"] == records[0].id
    assert [record.id for record in admin.dead_letters("jobs")] == [r.id for r in records[1:]]
    partly = cli.run("archive", "requeue", "jobs", str(records[1].id), str(records[0].id)).expect(1)
    assert partly.stdout == "1 dead letter(s) requeued\n"
    assert partly.error == f"pgqrs: error: not dead letters of queue jobs: {records[0].id}"
    every = cli.run("archive", "requeue", "jobs", "--all").expect(0)
    assert every.stdout == "1 dead letter(s) requeued\n"
    assert admin.dead_letters("jobs") == [] and admin.queue_metrics("jobs").pending_count == 3


def test_requeue_needs_ids_or_all(offline: runner.Cli) -> None:
    neither, both, bad = offline.many(
        ["archive", "requeue", "jobs"],
        ["archive", "requeue", "jobs", "1", "--all"],
        ["archive", "requeue", "jobs", "0"],
    )
    assert neither.expect(2).error == "pgqrs: error: give the dead letters' ids or --all (one of them)"
    assert both.expect(2).error == neither.error
    bad.expect(2)

"""`pgqrs archive list`, the --archive views of `message read|count|show`, and `pgqrs worker`."""

from __future__ import annotations

from pgqrs import sync
from tests.cli import runner


def test_archive_views(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    sent = sync.Producer(admin.pool, jobs, admin.config).batch_enqueue(
        [{"type": "email", "n": 1}, {"type": "sms", "n": 2}, {"type": "email", "n": 3}, {"n": 4}]
    )
    with sync.Consumer(admin.pool, jobs, admin.config) as consumer:
        taken = consumer.dequeue_batch(3)
        assert consumer.archive_batch([message.id for message in taken]) == [True, True, True]
    newest_first = [sent[2].id, sent[1].id, sent[0].id]

    listed, listed_json, two, read, read_table, read_email, counted, shown, shown_table, missing = cli.many(
        ["archive", "list", "jobs"],
        ["--format", "json", "archive", "list", "jobs"],
        ["--format", "json", "archive", "list", "jobs", "--count", "2"],
        ["--format", "json", "message", "read", "jobs", "--archive", "--count", "2"],
        ["message", "read", "jobs", "--archive"],
        ["--format", "json", "message", "read", "jobs", "--archive", "--message-type", "email", "-n", "5"],
        ["message", "count", "jobs", "--archive"],
        ["--format", "json", "message", "show", "jobs", str(sent[1].id), "--archive"],
        ["message", "show", "jobs", str(sent[0].id), "--archive"],
        ["message", "show", "jobs", str(sent[3].id), "--archive"],
    )
    header, _rule, *rows = listed.expect(0).stdout.splitlines()
    assert header.split() == ["msg_id", "read_ct", "archived_at", "payload", "dead_letter"]
    assert [int(row.split()[0]) for row in rows] == newest_first
    records = listed_json.expect(0).json()
    assert [record["original_msg_id"] for record in records] == newest_first
    assert all(record["processing_duration"] is not None for record in records)
    assert [record["original_msg_id"] for record in two.expect(0).json()] == newest_first[:2]
    assert read.expect(0).json() == two.json()
    assert read_table.expect(0).stdout.splitlines()[:3] == listed.stdout.splitlines()[:3]  # --count 1
    assert len(read_table.stdout.splitlines()) == 3
    assert [record["payload"]["n"] for record in read_email.expect(0).json()] == [3, 1]
    assert counted.expect(0).stdout == "3\n"
    assert shown.expect(0).json()["payload"] == {"type": "sms", "n": 2}
    assert f"original_msg_id      {sent[0].id}\n" in shown_table.expect(0).stdout
    assert "dead_letter_reason   -" in shown_table.stdout
    assert missing.expect(1).error == f"pgqrs: error: message {sent[3].id} is not in the archive"
    assert admin.messages.count_by_fk(jobs.id) == 1  # viewing the archive leased nothing


def test_workers(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    emails, jobs = admin.create_queue("emails"), admin.create_queue("jobs")
    registered = [sync.Consumer(admin.pool, queue, admin.config).register() for queue in (emails, jobs, jobs)]

    listed, listed_json, of_jobs, none, missing, kept = cli.many(
        ["worker", "list"],
        ["--format", "json", "worker", "list"],
        ["--format", "json", "worker", "list", "jobs"],
        ["archive", "list", "emails"],
        ["worker", "list", "nope"],
        ["--format", "json", "worker", "remove-stale", "--older-than", "3600"],
    )
    header, _rule, *rows = listed.expect(0).stdout.splitlines()
    assert header.split() == ["id", "queue_id", "hostname", "pid", "status", "heartbeat_at"]
    assert [int(row.split()[0]) for row in rows] == [worker.id for worker in registered]
    assert [worker["id"] for worker in listed_json.expect(0).json()] == [worker.id for worker in registered]
    assert {worker["queue_id"] for worker in of_jobs.expect(0).json()} == {jobs.id}
    assert len(of_jobs.json()) == 2
    assert none.expect(0).stdout == "no archived messages\n"
    assert missing.expect(1).error == "pgqrs: error: queue 'nope' does not exist"
    assert kept.expect(0).json() == {"removed": 0, "older_than_seconds": 3600.0}

    removed = cli.run("worker", "remove-stale", "--older-than", "0").expect(0)
    assert removed.stdout == "3 stale worker(s) removed\n"
    assert cli.run("worker", "list").expect(0).stdout == "no workers\n"

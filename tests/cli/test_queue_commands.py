"""`pgqrs queue create|list|delete|purge|metrics`, in both formats, with their failures."""

from __future__ import annotations

from pgqrs import sync
from tests.cli import runner


def test_dedup_window(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    (created,) = cli.many(["--format", "json", "queue", "create", "orders", "--dedup-window", "3600"])
    changed, negative, missing = cli.many(
        ["--format", "json", "queue", "set-dedup-window", "orders", "90.5"],
        ["queue", "create", "bad", "--dedup-window", "-1"],
        ["queue", "set-dedup-window", "nope", "1"],
    )
    assert created.expect(0).json()["dedup_window"] == 3600
    assert changed.expect(0).json()["dedup_window"] == 90.5
    assert admin.get_queue("orders").dedup_window.total_seconds() == 90.5
    assert negative.expect(2).stdout == ""
    assert "nope" in missing.expect(1).error
    assert [queue.queue_name for queue in admin.list_queues()] == ["orders"]


def test_create_list_and_metrics(cli: runner.Cli, admin: sync.PgqrsAdmin, schema: str) -> None:
    created, created_json = cli.many(
        ["queue", "create", "emails"], ["--format", "json", "queue", "create", "jobs"]
    )
    assert "queue_name    emails" in created.expect(0).stdout
    assert f"schema        {schema}" in created.stdout
    assert "dedup_window  0s" in created.stdout
    jobs = created_json.expect(0).json()
    assert jobs["queue_name"] == "jobs" and jobs["schema"] == schema and isinstance(jobs["id"], int)
    assert jobs["created_at"].startswith("20")  # ISO 8601
    producer = sync.Producer(admin.pool, admin.get_queue("jobs"), admin.config)
    producer.batch_enqueue([{"n": 1}, {"n": 2}])
    producer.enqueue_delayed({"n": 3}, 60)

    duplicate, listed, listed_json, every, every_json, one, one_json, missing = cli.many(
        ["queue", "create", "emails"],
        ["queue", "list"],
        ["--format", "json", "queue", "list"],
        ["queue", "metrics"],
        ["--format", "json", "queue", "metrics"],
        ["queue", "metrics", "jobs"],
        ["--format", "json", "queue", "metrics", "jobs"],
        ["queue", "metrics", "nope"],
    )
    assert duplicate.expect(1).error == "pgqrs: error: queue 'emails' already exists"
    lines = listed.expect(0).stdout.splitlines()
    assert lines[0].split() == ["id", "queue_name", "created_at"]
    rows = [line.split() for line in lines[2:]]
    assert sorted(row[1] for row in rows) == ["emails", "jobs"]
    assert [int(row[0]) for row in rows] == sorted(int(row[0]) for row in rows)  # oldest first
    assert [queue["queue_name"] for queue in listed_json.expect(0).json()] == [row[1] for row in rows]
    header, _rule, emails_row, jobs_row = every.expect(0).stdout.splitlines()
    assert header.split() == ["queue", "total", "pending", "locked", "delayed", "archived", "dead"]
    assert emails_row.split() == ["emails", "0", "0", "0", "0", "0", "0"]
    assert jobs_row.split() == ["jobs", "3", "2", "0", "1", "0", "0"]
    assert [metrics["pending_count"] for metrics in every_json.expect(0).json()] == [0, 2]
    assert "delayed_count      1" in one.expect(0).stdout
    metrics = one_json.expect(0).json()
    assert (metrics["queue_name"], metrics["total_messages"], metrics["delayed_count"]) == ("jobs", 3, 1)
    assert metrics["oldest_pending_at"] is not None
    assert missing.expect(1).error == "pgqrs: error: queue 'nope' does not exist"


def test_purge_and_delete(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    admin.create_queue("emails")
    jobs = admin.create_queue("jobs")
    sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"n": 1}, {"n": 2}])

    not_empty = cli.run("queue", "delete", "jobs").expect(1)
    assert "queue 'jobs' still holds 2 message(s); purge it first" in not_empty.error
    assert admin.messages.count_by_fk(jobs.id) == 2

    purged, purged_json = cli.many(
        ["queue", "purge", "jobs"], ["--format", "json", "queue", "purge", "emails"]
    )
    assert purged.expect(0).stdout == "2 message(s) purged from queue 'jobs'\n"
    assert purged_json.expect(0).json() == {"queue": "emails", "purged": 0}

    deleted, deleted_json, purge_missing = cli.many(
        ["queue", "delete", "jobs"],
        ["--format", "json", "queue", "delete", "emails"],
        ["queue", "purge", "x"],
    )
    assert deleted.expect(0).stdout == "queue 'jobs' deleted\n"
    assert deleted_json.expect(0).json() == {"queue": "emails", "deleted": True}
    assert purge_missing.expect(1).error == "pgqrs: error: queue 'x' does not exist"

    gone, empty, empty_json = cli.many(
        ["queue", "delete", "jobs"], ["queue", "list"], ["--format", "json", "queue", "metrics"]
    )
    assert gone.expect(1).error == "pgqrs: error: queue 'jobs' does not exist"
    assert empty.expect(0).stdout == "no queues\n"
    assert empty_json.expect(0).json() == []

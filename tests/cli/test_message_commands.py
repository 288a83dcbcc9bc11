"""`pgqrs message send|read|dequeue|delete|count|show`, in both formats, with their failures."""

from __future__ import annotations

import datetime

import pytest

from pgqrs import sync
from tests.cli import runner


def seconds_between(start: str, end: str) -> float:
    return (datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)).total_seconds()


@pytest.fixture
def producer(admin: sync.PgqrsAdmin) -> sync.Producer:
    """Return a producer on a fresh queue named 'jobs' (and create an empty queue 'other')."""
    admin.create_queue("other")
    return sync.Producer(admin.pool, admin.create_queue("jobs"), admin.config)


def test_send_count_and_show(cli: runner.Cli, admin: sync.PgqrsAdmin, producer: sync.Producer) -> None:
    payload = '{"message": "Hello, World!", "timestamp": "2023-01-01T00:00:00Z"}'
    sent, delayed = cli.many(
        ["message", "send", "jobs", payload],
        [
            "--format",
            "json",
            "message",
            "send",
            "jobs",
            '{"task": "delayed_task", "n": [1, 2.5, null]}',
            "--delay",
            "30",
        ],
    )
    assert 'payload      {"message": "Hello, World!",' in sent.expect(0).stdout  # wrapped at 80 columns
    assert "read_ct      0" in sent.stdout
    message = delayed.expect(0).json()
    assert message["payload"] == {"task": "delayed_task", "n": [1, 2.5, None]}
    assert message["read_ct"] == 0 and message["worker_id"] is None
    assert 29.9 < seconds_between(message["enqueued_at"], message["vt"]) < 30.1
    first_id = int(sent.stdout.split()[1])
    other_id = sync.Producer(admin.pool, admin.get_queue("other"), admin.config).enqueue({}).id

    shown, shown_json, counted, counted_json, missing, elsewhere, archive_empty = cli.many(
        ["message", "show", "jobs", str(first_id)],
        ["--format", "json", "message", "show", "jobs", str(message["id"])],
        ["message", "count", "jobs"],
        ["--format", "json", "message", "count", "jobs"],
        ["message", "show", "jobs", "999999"],
        ["message", "show", "jobs", str(other_id)],
        ["--format", "json", "message", "count", "jobs", "--archive"],
    )
    assert f"id           {first_id}\n" in shown.expect(0).stdout
    assert shown_json.expect(0).json() == message
    assert counted.expect(0).stdout == "2\n"
    assert counted_json.expect(0).json() == {"queue": "jobs", "archive": False, "count": 2}
    assert missing.expect(1).error == "pgqrs: error: queue 'jobs' has no message 999999"
    assert elsewhere.expect(1).error == f"pgqrs: error: queue 'jobs' has no message {other_id}"
    assert archive_empty.expect(0).json() == {"queue": "jobs", "archive": True, "count": 0}


def test_a_send_answered_by_a_reservation_shows_when_its_message_was_acknowledged(
    cli: runner.Cli, admin: sync.PgqrsAdmin
) -> None:
    admin.create_queue("orders", dedup_window=3600)
    first = cli.run("message", "send", "orders", '{"order": 42}', "--dedup-key", "order-42").expect(0)
    assert "acknowledged_at" not in first.stdout  # a live message: the row would only say '-'
    message_id = cli.run("--format", "json", "message", "dequeue", "orders").expect(0).json()["id"]
    again = cli.run("message", "send", "orders", '{"order": 42}', "--dedup-key", "order-42").expect(0)
    shown = dict(line.split(None, 1) for line in again.stdout.splitlines() if not line.startswith(" "))
    assert shown["id"] == str(message_id) and shown["acknowledged_at"].endswith("Z")
    assert cli.run("message", "count", "orders").expect(0).stdout.strip() == "0"


def test_send_to_a_missing_queue(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    result = cli.run("message", "send", "nope", "{}").expect(1)
    assert result.error == "pgqrs: error: queue 'nope' does not exist"


def test_read_leases_for_the_lock_time(
    cli: runner.Cli, admin: sync.PgqrsAdmin, producer: sync.Producer
) -> None:
    ids = [message.id for message in producer.batch_enqueue([{"n": 1}, {"n": 2}, {"n": 3}])]
    producer.enqueue_delayed({"n": 4}, 60)

    leased = cli.run(
        "--format", "json", "message", "read", "jobs", "--count", "2", "--lock-time", "60"
    ).json()
    assert [message["id"] for message in leased] == ids[:2]
    for message in leased:
        assert message["read_ct"] == 1 and message["worker_id"] is not None
        assert 59.9 < seconds_between(message["dequeued_at"], message["vt"]) < 60.1

    table = cli.run("message", "read", "jobs", "-n", "5").expect(0)  # default lock time (5 s)
    header, _rule, row = table.stdout.splitlines()
    assert header.split() == ["id", "read_ct", "enqueued_at", "vt", "payload"]
    assert row.split()[0] == str(ids[2]) and row.endswith('{"n": 3}')

    nothing, nothing_json = cli.many(
        ["message", "read", "jobs"], ["--format", "json", "message", "read", "jobs"]
    )
    assert nothing.expect(0).stdout == "no visible messages\n"
    assert nothing_json.expect(0).json() == []
    assert admin.messages.count_by_fk(producer.queue_info.id) == 4  # reading deletes nothing


def test_read_message_type_leases_only_that_type(
    cli: runner.Cli, admin: sync.PgqrsAdmin, producer: sync.Producer
) -> None:
    payloads = [{"type": "a"}, {"type": "b"}, "b", {"type": "a"}, ["b"], {"type": "b"}, {"type": "a"}]
    ids = [message.id for message in producer.batch_enqueue(payloads)]

    matched = cli.run(
        "--format",
        "json",
        "message",
        "read",
        "jobs",
        "--message-type",
        "b",
        "--count",
        "5",
        "--lock-time",
        "60",
    ).json()
    assert [message["id"] for message in matched] == [ids[1], ids[5]]
    for index, message_id in enumerate(ids):
        message = admin.messages.get(message_id)
        if index in (1, 5):
            assert message.read_ct == 1 and message.worker_id is not None
        else:  # filtered in the database: never leased
            assert message.read_ct == 0 and message.worker_id is None

    # One after the other: two filtered reads running together may each hold what the other wants.
    first_a = cli.run(
        "--format", "json", "message", "read", "jobs", "--message-type", "a", "--lock-time", "60"
    )
    none = cli.run("message", "read", "jobs", "--message-type", "c")
    assert [message["payload"] for message in first_a.expect(0).json()] == [{"type": "a"}]
    assert none.expect(0).stdout == "no visible messages\n"
    leased = [
        message.id for message in admin.messages.filter_by_fk(producer.queue_info.id) if message.read_ct
    ]
    assert sorted(leased) == sorted([ids[1], ids[5], first_a.json()[0]["id"]])


def test_dequeue_takes_and_deletes(cli: runner.Cli, admin: sync.PgqrsAdmin, producer: sync.Producer) -> None:
    first, second = producer.batch_enqueue([{"n": 1}, {"n": 2}])

    taken = cli.run("--format", "json", "message", "dequeue", "jobs").expect(0).json()
    assert (taken["id"], taken["payload"], taken["read_ct"]) == (first.id, {"n": 1}, 1)
    assert admin.messages.count_by_fk(producer.queue_info.id) == 1

    table = cli.run("message", "dequeue", "jobs").expect(0)
    assert f"id           {second.id}\n" in table.stdout and 'payload      {"n": 2}' in table.stdout

    empty, empty_json = cli.many(
        ["message", "dequeue", "jobs"], ["--format", "json", "message", "dequeue", "jobs"]
    )
    assert empty.expect(1).error == "pgqrs: error: queue 'jobs' has no visible message"
    assert empty_json.expect(1).stdout == ""
    assert admin.messages.count_by_fk(producer.queue_info.id) == 0


def test_one_shot_consumers_leave_no_worker_behind(
    cli: runner.Cli, admin: sync.PgqrsAdmin, producer: sync.Producer
) -> None:
    producer.enqueue({"n": 1})
    cli.run("message", "dequeue", "jobs").expect(0)
    empty_dequeue, empty_read = cli.many(["message", "dequeue", "jobs"], ["message", "read", "jobs"])
    assert (empty_dequeue.code, empty_read.expect(0).stdout) == (1, "no visible messages\n")
    assert admin.list_workers() == []  # a shell loop polling an empty queue leaves nothing

    # Leases the user got run their course, and the messages still name their (stopped) holder.
    producer.enqueue({"n": 2})
    [leased] = cli.run("--format", "json", "message", "read", "jobs", "--lock-time", "600").expect(0).json()
    [worker] = admin.list_workers()
    assert (worker.id, worker.status) == (leased["worker_id"], "stopped")
    assert admin.messages.get(leased["id"]).worker_id == worker.id


def test_delete_whatever_the_lease(cli: runner.Cli, admin: sync.PgqrsAdmin, producer: sync.Producer) -> None:
    free, held = producer.batch_enqueue([{"n": 1}, {"n": 2}])
    other = sync.Producer(admin.pool, admin.get_queue("other"), admin.config).enqueue({"n": 3})
    with sync.Consumer(admin.pool, producer.queue_info, admin.config) as consumer:
        leased = consumer.dequeue_batch(2, lock_time=600)
    assert {message.id for message in leased} == {free.id, held.id}

    deleted, deleted_json, elsewhere = cli.many(
        ["message", "delete", "jobs", str(free.id)],
        ["--format", "json", "message", "delete", "jobs", str(held.id)],
        ["message", "delete", "jobs", str(other.id)],
    )
    assert deleted.expect(0).stdout == f"message {free.id} deleted from queue 'jobs'\n"
    assert deleted_json.expect(0).json() == {"queue": "jobs", "id": held.id, "deleted": True}
    assert elsewhere.expect(1).error == f"pgqrs: error: queue 'jobs' has no message {other.id}"
    assert admin.messages.get(other.id).payload == {"n": 3}  # untouched
    assert admin.messages.count_by_fk(producer.queue_info.id) == 0

    again, no_queue = cli.many(["message", "delete", "jobs", str(free.id)], ["message", "delete", "x", "1"])
    assert again.expect(1).error == f"pgqrs: error: queue 'jobs' has no message {free.id}"
    assert no_queue.expect(1).error == "pgqrs: error: queue 'x' does not exist"


def test_send_with_priority_time_and_key(cli: runner.Cli, producer: sync.Producer) -> None:
    urgent, scheduled = cli.many(
        ["--format", "json", "message", "send", "jobs", '{"n": 1}', "--priority", "7", "--dedup-key", "k"],
        ["--format", "json", "message", "send", "jobs", '{"n": 2}', "--at", "2030-01-02T09:30:00+02:00"],
    )
    again = cli.run("--format", "json", "message", "send", "jobs", '{"n": 3}', "--dedup-key", "k")
    first = urgent.expect(0).json()
    assert (first["priority"], first["dedup_key"]) == (7, "k")
    assert scheduled.expect(0).json()["vt"] == "2030-01-02T07:30:00+00:00"
    assert again.expect(0).json()["id"] == first["id"]  # the live message: nothing sent
    cli.run("message", "send", "jobs", "-", "--priority", "3", stdin=b'{"n": 4}\n{"n": 5}\n').expect(0)
    producer.enqueue({"n": 6})
    consumer = sync.Consumer(producer.pool, producer.queue_info, producer.config)
    assert [message.payload["n"] for message in consumer.dequeue_batch(10)] == [1, 4, 5, 6]
    consumer.close()


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--priority", "101"], "priority must be an integer from 0 to 100"),
        (["--priority", "-1"], "priority must be an integer from 0 to 100"),
        (["--at", "2030-01-02T09:30:00"], "has no UTC offset"),
        (["--at", "tomorrow"], "not an ISO 8601 time"),
        (["--at", "2030-01-02T09:30:00Z", "--delay", "5"], "--delay or --at, not both"),
        (["--dedup-key", ""], "non-empty"),
    ],
)
def test_bad_send_options_are_usage_errors(
    cli: runner.Cli, producer: sync.Producer, arguments: list[str], reason: str
) -> None:
    result = cli.run("message", "send", "jobs", "{}", *arguments).expect(2)
    assert reason in result.stderr
    assert producer.pool is not None and cli.run("message", "count", "jobs").expect(0).stdout == "0\n"

"""Ctrl-C: whatever the command, leases it held are released, its workers are stopped, and it
exits 130 with one line on stderr.

Each test interrupts a command at a point it cannot leave on its own (waiting for input, or
writing a result nobody reads yet), so the interruption is certain to land there.
"""

from __future__ import annotations

from pgqrs import sync
from tests.cli import runner


def test_interrupted_read_releases_the_messages_it_did_not_print(
    cli: runner.Cli, admin: sync.PgqrsAdmin
) -> None:
    jobs = admin.create_queue("jobs")
    # ~2 MB of JSON: more than a pipe holds, so the printing waits for a reader that never comes.
    sync.Producer(admin.pool, jobs, admin.config).batch_enqueue([{"blob": "x" * 100_000}] * 20)

    with cli.started(
        "--format", "json", "message", "read", "jobs", "--count", "20", "--lock-time", "600"
    ) as read:
        read.wait_for_output()  # leased, and printing
        result = read.interrupt(rules=False)  # stdout holds part of a JSON document

    assert (result.code, result.stderr) == (130, "pgqrs: error: interrupted\n")
    assert admin.list_workers() == []
    with sync.Consumer(admin.pool, jobs, admin.config) as consumer:
        again = consumer.dequeue_batch(20)  # visible at once, as if never read
    assert len(again) == 20 and {message.read_ct for message in again} == {1}


def test_interrupted_send_says_what_was_sent(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    jobs = admin.create_queue("jobs")
    in_pairs = cli.with_environment(PGQRS_DEFAULT_BATCH_SIZE="2")

    with in_pairs.started("message", "send", "jobs", "-") as send:
        send.feed('{"n": 1}\n{"n": 2}\n')
        runner.wait_until(lambda: admin.messages.count_by_fk(jobs.id) == 2, "the first batch")
        send.feed('{"n": 3}\n')  # read once the first batch is sent; its batch waits for a 4th line
        result = send.interrupt()

    assert result.code == 130
    assert result.stderr == (
        "pgqrs: error: interrupted: 2 message(s) from lines 1-2 were sent, nothing after line 2\n"
    )
    assert [message.payload for message in admin.messages.filter_by_fk(jobs.id)] == [{"n": 1}, {"n": 2}]

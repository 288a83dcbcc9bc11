"""Ctrl-C: whatever the command, leases it held are released, its workers are stopped, and it
exits 130 with one line on stderr.

Each test interrupts a command at a point it cannot leave on its own (waiting for input, or
writing a result nobody reads yet), so the interruption is certain to land there.
"""

from __future__ import annotations

from pgqrs import sync
from tests.cli import runner


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

"""`pgqrs message send QUEUE -`: JSON lines from stdin, in batches, with exact failure reports."""

from __future__ import annotations

import json
import os
import pty
import subprocess

import pytest

from pgqrs import sync
from tests.cli import runner


@pytest.fixture
def jobs(admin: sync.PgqrsAdmin) -> sync.QueueInfo:
    return admin.create_queue("jobs")


def lines(count: int, start: int = 1) -> str:
    return "".join(json.dumps({"n": n}) + "\n" for n in range(start, start + count))


def sent_numbers(admin: sync.PgqrsAdmin, queue: sync.QueueInfo) -> list[int]:
    messages = sorted(admin.messages.filter_by_fk(queue.id), key=lambda message: message.id)
    return [message.payload["n"] for message in messages]


def test_send_lines_in_batches(cli: runner.Cli, admin: sync.PgqrsAdmin, jobs: sync.QueueInfo) -> None:
    batches_of_ten = cli.with_environment(PGQRS_DEFAULT_BATCH_SIZE="10")
    text = lines(12) + "\n  \n" + lines(13, start=13)  # blank lines are skipped
    as_json, as_table, empty = (
        batches_of_ten.run("--format", "json", "message", "send", "jobs", "-", stdin=text),
        batches_of_ten.run("message", "send", "jobs", "--delay", "60", "-", stdin=lines(3, start=26)),
        batches_of_ten.run("--format", "json", "message", "send", "jobs", "-", stdin=""),
    )
    assert as_json.expect(0).json() == {"queue": "jobs", "sent": 25}
    assert as_json.stderr == "sent 25 message(s) to queue 'jobs'\n"  # no progress bar off a terminal
    assert as_table.expect(0).stdout == ""
    assert as_table.stderr == "sent 3 message(s) to queue 'jobs'\n"
    assert empty.expect(0).json() == {"queue": "jobs", "sent": 0}
    assert sent_numbers(admin, jobs) == list(range(1, 29))
    assert admin.queue_metrics("jobs").delayed_count == 3


def test_a_bad_line_stops_after_the_batches_before_it(
    cli: runner.Cli, admin: sync.PgqrsAdmin, jobs: sync.QueueInfo
) -> None:
    batches_of_ten = cli.with_environment(PGQRS_DEFAULT_BATCH_SIZE="10")
    text = lines(23) + '{"n": 24,}\n' + lines(5, start=25)
    failed = batches_of_ten.run("--format", "json", "message", "send", "jobs", "-", stdin=text).expect(2)
    assert failed.stdout == ""
    assert failed.error == (
        "pgqrs: error: line 24: invalid JSON: Expecting property name enclosed in double quotes "
        "(column 10); 20 message(s) from lines 1-20 were sent, nothing after line 20"
    )
    assert sent_numbers(admin, jobs) == list(range(1, 21))


def test_a_bad_first_batch_sends_nothing_and_connects_to_nothing(offline: runner.Cli) -> None:
    cases = {
        b'{"n": 1}\n{"n": NaN}\n': "line 2: payload is not valid JSON",
        b'{"n": 1}\n\xff\n': "line 2: not valid UTF-8",
        b'"\\u0000"\n': "line 1: payload contains a NUL character",
        b"[1,\n2]\n": "line 1: invalid JSON: Expecting value (column 4)",
    }
    for stdin, expected in cases.items():
        failed = offline.run("message", "send", "jobs", "-", stdin=stdin).expect(2)
        assert failed.error.startswith(f"pgqrs: error: {expected}")
        assert failed.error.endswith("; nothing was sent")


def test_send_lines_to_a_missing_queue(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    failed = cli.run("message", "send", "nope", "-", stdin=lines(2)).expect(1)
    assert failed.error == "pgqrs: error: queue 'nope' does not exist"


def test_progress_and_count_on_a_terminal(
    cli: runner.Cli, admin: sync.PgqrsAdmin, jobs: sync.QueueInfo
) -> None:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [runner.executable(), "message", "send", "jobs", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=cli.environment,
            cwd=cli.cwd,
        )
        stdout, _ = process.communicate(lines(250).encode(), timeout=runner.TIMEOUT_SECONDS)
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert process.returncode == 0 and stdout == b""
    assert b"sent 250 message(s) to queue 'jobs'" in shown
    assert len(sent_numbers(admin, jobs)) == 250

"""Global options: --out, --log-dest/--log-file/--log-level, --help, --version, python -m pgqrs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pgqrs
from pgqrs import sync
from tests.cli import runner


def test_out_writes_the_result_to_a_file(cli: runner.Cli, admin: sync.PgqrsAdmin, tmp_path: Path) -> None:
    admin.create_queue("jobs")
    as_json, as_table = cli.many(
        ["--format", "json", "--out", "queues.json", "queue", "list"],
        ["--out", str(tmp_path / "metrics.txt"), "queue", "metrics", "jobs"],
    )
    assert as_json.expect(0).stdout == "" and as_table.expect(0).stdout == ""
    assert [queue["queue_name"] for queue in json.loads((tmp_path / "queues.json").read_text())] == ["jobs"]
    assert "pending_count      0" in (tmp_path / "metrics.txt").read_text()
    failed = cli.run("--out", "missing.txt", "queue", "metrics", "nope").expect(1)
    assert failed.error == "pgqrs: error: queue 'nope' does not exist"
    assert not (tmp_path / "missing.txt").exists()  # nothing is written for a failed command


def test_logs_go_to_the_chosen_destination(cli: runner.Cli, admin: sync.PgqrsAdmin, tmp_path: Path) -> None:
    to_file, to_default_file, to_stderr, quiet = cli.many(
        ["--log-level", "info", "--log-dest", "file", "--log-file", "chosen.log", "queue", "list"],
        ["--log-level", "debug", "--log-dest", "file", "verify"],
        ["--log-level", "info", "queue", "list"],
        ["--log-level", "error", "queue", "list"],
    )
    for result in (to_file, to_default_file, quiet):
        assert result.expect(0).stderr == ""
    assert "INFO pgqrs.cli: connecting to " in (tmp_path / "chosen.log").read_text()
    default_log = (tmp_path / "pgqrs.log").read_text()
    assert "DEBUG pgqrs.cli: configuration: Config(" in default_log
    assert "INFO pgqrs.cli: connecting to" in to_stderr.expect(0).stderr


def test_tracebacks_only_at_debug_and_trace(offline: runner.Cli, tmp_path: Path) -> None:
    plain, debug, trace = offline.many(
        ["queue", "list"],
        ["--log-level", "debug", "queue", "list"],
        ["--log-level", "trace", "--log-file", "trace.log", "queue", "list"],
    )
    assert "Connection refused" in plain.expect(1).error  # one line, no traceback
    assert "Traceback (most recent call last)" in debug.expect(1).stderr
    assert debug.stderr.splitlines()[-1] == plain.error
    assert trace.expect(1).stderr == plain.stderr  # the traceback went to the log file
    log = (tmp_path / "trace.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "DEBUG psycopg: connection attempt" in log  # trace: the driver's own debug lines


def test_help_and_version(unconfigured: runner.Cli) -> None:
    helped, version, command_help = unconfigured.many(
        ["--help"], ["--version"], ["message", "read", "--help"]
    )
    for option in ("--dsn", "--config", "--schema", "--log-dest", "--log-level", "--format", "--out"):
        assert option in helped.expect(0).stdout
    assert version.expect(0).stdout == f"pgqrs {pgqrs.__version__}\n"
    for option in ("--count", "--lock-time", "--message-type", "--archive"):
        assert option in command_help.expect(0).stdout
    for code_and_meaning in (
        "0: success",
        "1: the operation failed",
        "2: usage error",
        "130: interrupted (Ctrl-C)",
    ):
        assert code_and_meaning in helped.stdout
    assert "Global options may also follow the command" in helped.stdout


def test_python_dash_m(unconfigured: runner.Cli) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pgqrs", "--version"],
        capture_output=True,
        env=unconfigured.environment,
        timeout=runner.TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout == f"pgqrs {pgqrs.__version__}\n".encode()


def test_unicode_on_a_terminal_that_cannot_show_it(cli: runner.Cli, admin: sync.PgqrsAdmin) -> None:
    admin.create_queue("jobs")
    ascii_terminal = cli.with_environment(PYTHONIOENCODING="ascii")
    payload = '{"name": "Zoë ☕"}'
    # One after the other: the read must see the message the send wrote.
    as_json = ascii_terminal.run("--format", "json", "message", "send", "jobs", payload)
    as_table = ascii_terminal.run("message", "read", "jobs")
    assert as_json.expect(0).json()["payload"] == {"name": "Zoë ☕"}
    assert "\\u00eb" in as_json.stdout  # valid JSON, escaped
    assert as_table.expect(0).stdout.isascii() and "Zo\\xeb" in as_table.stdout


def test_global_options_after_the_command(
    cli: runner.Cli, admin: sync.PgqrsAdmin, dsn: str, tmp_path: Path
) -> None:
    jobs = admin.create_queue("jobs")
    sync.Producer(admin.pool, jobs, admin.config).enqueue({"n": 1})
    elsewhere = cli.with_environment(PGQRS_DSN="postgresql://postgres@127.0.0.1:1/postgres")

    listed, last_wins, logged, bad_out, helped = elsewhere.many(
        ["queue", "list", "--dsn", dsn, "--format", "json"],
        ["--format", "table", "queue", "list", "-d", dsn, "--format", "json"],
        ["queue", "metrics", "jobs", "--dsn", dsn, "--log-file", "late.log", "--log-level", "info"],
        ["queue", "list", "--out", "/no/such/directory/out.json"],
        ["message", "read", "--help"],
    )
    assert [queue["queue_name"] for queue in listed.expect(0).json()] == ["jobs"]
    assert last_wins.expect(0).json() == listed.json()  # the later --format wins
    assert logged.expect(0).stderr == ""
    assert "INFO pgqrs.cli: connecting to " in (tmp_path / "late.log").read_text()
    assert "'--out': directory '/no/such/directory' does not exist" in bad_out.expect(2).error
    assert "Global options" in helped.expect(0).stdout and "--format" in helped.stdout

    # After the queue argument too, and with the command's own options on either side.
    read = elsewhere.run("message", "read", "jobs", "--format", "json", "--count", "5", "--dsn", dsn)
    assert [message["payload"] for message in read.expect(0).json()] == [{"n": 1}]

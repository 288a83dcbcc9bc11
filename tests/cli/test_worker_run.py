"""`pgqrs worker run MODULE:ATTR`: a real app module, run by the real command in a subprocess.

The apps are written into the test's working directory (importable, as with ``python -m``).
Handlers that must still be running when a signal comes sleep for minutes; the tests wait for
conditions in the database, never for a fixed time.
"""

from __future__ import annotations

import re
import signal
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgqrs import sync
from tests.cli import runner, terminal

ASYNC_APP = """
import asyncio
import pathlib
import time

import pgqrs

app = pgqrs.App()
empty_app = pgqrs.App()
not_an_app = 42
QUICK = pgqrs.RetryPolicy(max_attempts=2, base_delay=0.05, max_delay=0.05, jitter=0)


@app.handler("emails", concurrency=4, retry=QUICK)
async def send_email(message: pgqrs.QueueMessage) -> None:
    if message.payload.get("bounce"):
        raise ValueError(f"no mailbox {message.payload['to']}")


@app.handler("reports", on_success="delete")
async def build_report(message: pgqrs.QueueMessage) -> None: ...


@app.handler("slow", concurrency=2)
async def slow(message: pgqrs.QueueMessage) -> None:
    await asyncio.to_thread(time.sleep, message.payload["seconds"])  # a blocking call, as apps do


@app.handler("gated", concurrency=3)
async def gated(message: pgqrs.QueueMessage) -> None:
    gate = message.payload.get("gate")
    while gate and not pathlib.Path(gate).exists():
        await asyncio.sleep(0.05)
    if message.payload.get("unwanted"):
        raise pgqrs.Discard("unwanted")
"""
SYNC_APP = """
import threading
import time

from pgqrs import sync as pgqrs

app = pgqrs.App()


@app.handler("emails")
def send_email(message: pgqrs.QueueMessage) -> None: ...


@app.handler("reports")
def build_report(message: pgqrs.QueueMessage) -> None:
    time.sleep(0.5)
    with open("threads.txt", "a") as threads:
        threads.write(threading.current_thread().name + "\\n")


@app.handler("slow", concurrency=2)
def slow(message: pgqrs.QueueMessage) -> None:
    time.sleep(message.payload["seconds"])
"""
BROKEN_APP = 'raise RuntimeError("boom at import")\n'
NEEDS_A_DEPENDENCY = "import no_such_dependency\n"
Raw = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    """Write the test apps into the commands' working directory."""
    for name, source in [
        ("tasks", ASYNC_APP),
        ("sync_tasks", SYNC_APP),
        ("broken", BROKEN_APP),
        ("needs_dependency", NEEDS_A_DEPENDENCY),
    ]:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    return tmp_path


@pytest.fixture
def worker(cli: runner.Cli, apps: Path) -> runner.Cli:
    """Return a runner whose idle workers look at their queues every 0.1 s (quick retries)."""
    return cli.with_environment(PGQRS_POLL_INTERVAL="0.1")


def send(admin: sync.PgqrsAdmin, queue: str, payloads: list[Any]) -> sync.QueueInfo:
    info = admin.create_queue(queue, exist_ok=True)
    sync.Producer(admin.pool, info, admin.config).batch_enqueue(payloads)
    return info


def untouched(raw: Raw, schema: str, queue: sync.QueueInfo) -> int:
    """Return how many of the queue's messages are visible, never delivered and held by nobody."""
    row = raw.execute(
        f'SELECT count(*) FROM "{schema}".pgqrs_messages WHERE queue_id = %s '
        "AND vt <= now() AND read_ct = 0 AND worker_id IS NULL",
        (queue.id,),
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_until_empty_works_every_queue_and_prints_the_run_stats(
    worker: runner.Cli, admin: sync.PgqrsAdmin
) -> None:
    send(admin, "emails", [{"to": "a"}, {"to": "b", "bounce": True}, {"to": "c"}])
    send(admin, "reports", [{"n": 1}])

    result = worker.run("worker", "run", "tasks:app", "--until-empty", "--format", "json").expect(0)

    emails = {"handled": 4, "succeeded": 2, "retried": 1, "dead_lettered": 1, "released": 0}
    reports = {"handled": 1, "succeeded": 1, "retried": 0, "dead_lettered": 0, "released": 0}
    assert result.json() == {
        "handled": 5,
        "succeeded": 3,
        "retried": 1,
        "dead_lettered": 1,
        "released": 0,
        "by_queue": {"emails": emails, "reports": reports},
    }
    # Not a terminal: no live lines, one log line per failure.
    assert "pgqrs worker:" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if "pgqrs.worker" in line]
    assert len(failures) == 2, result.stderr
    retried = "WARNING pgqrs.worker: queue emails: message 2 failed on attempt 1 (ValueError: no mailbox b)"
    assert retried in failures[0]
    assert failures[1].endswith(
        "ERROR pgqrs.worker: queue emails: message 2 dead-lettered: ValueError: no mailbox b (attempt 2 of 2)"
    )
    metrics = {metrics.queue_name: metrics for metrics in admin.all_queues_metrics()}
    assert (metrics["emails"].total_messages, metrics["emails"].archived_count) == (0, 3)
    assert metrics["emails"].dead_letter_count == 1
    assert (metrics["reports"].total_messages, metrics["reports"].archived_count) == (0, 0)  # deleted


def test_a_sync_app_works_only_the_queues_asked_for(
    worker: runner.Cli, admin: sync.PgqrsAdmin, raw: Raw, schema: str, apps: Path
) -> None:
    emails = send(admin, "emails", [{"n": n} for n in range(3)])
    send(admin, "reports", [{"n": n} for n in range(3)])
    # --schema (a flag) wins over PGQRS_SCHEMA (the environment).
    elsewhere = worker.with_environment(PGQRS_SCHEMA="no_such_schema")

    result = elsewhere.run(
        "worker", "run", "sync_tasks:app", "--queue", "reports", "--concurrency", "3", "--until-empty",
        "--schema", schema,
    ).expect(0)  # fmt: skip

    assert result.stdout.splitlines() == [
        "queue    handled  succeeded  retried  dead_lettered  released",
        "─" * 61,
        "reports        3          3        0              0         0",
        "total          3          3        0              0         0",
    ]
    assert len(set((apps / "threads.txt").read_text().split())) == 3  # three handlers at once
    assert untouched(raw, schema, emails) == 3


def test_sigterm_stops_gracefully_and_loses_nothing(
    worker: runner.Cli, admin: sync.PgqrsAdmin, raw: Raw, schema: str
) -> None:
    slow = send(admin, "slow", [{"seconds": 0.3} for _ in range(12)])

    with worker.started("worker", "run", "tasks:app", "--queue", "slow", "--format", "json") as running:
        runner.wait_until(lambda: admin.archive.count_by_fk(slow.id) >= 2, "the first messages handled")
        result = running.signal(signal.SIGTERM)

    stats = result.expect(0).json()
    archived = admin.archive.filter_by_fk(slow.id)
    # What was running finished and was archived once; everything else is as it was sent.
    assert stats["succeeded"] == stats["handled"] == len(archived) >= 2
    assert len({record.original_msg_id for record in archived}) == len(archived)
    assert untouched(raw, schema, slow) == 12 - len(archived)
    assert "pgqrs: stopping: running handlers may finish within 30s" in result.stderr
    assert [worker.status for worker in admin.list_workers("slow")] == ["stopped"]


def test_the_handlers_metrics_are_served_on_the_metrics_port(
    worker: runner.Cli, admin: sync.PgqrsAdmin
) -> None:
    emails = send(admin, "emails", [{"to": "a"}, {"to": "b"}])

    with worker.started("worker", "run", "tasks:app", "--queue", "emails", "--metrics-port", "0") as running:
        running.wait_for_stderr("/metrics\n")
        address = re.search(r"handler metrics at (http://\S+/metrics)", running.stderr_read.decode())
        assert address is not None
        runner.wait_until(lambda: admin.archive.count_by_fk(emails.id) == 2, "both handled")
        with urllib.request.urlopen(address.group(1), timeout=30) as response:
            exposition = response.read().decode()
        result = running.signal(signal.SIGTERM)

    assert result.code == 0
    assert 'pgqrs_worker_messages_processed_total{queue="emails"} 2.0' in exposition


def stop_twice(worker: runner.Cli, admin: sync.PgqrsAdmin, target: str) -> runner.Result:
    """Run `target` on a queue of ten-minute handlers; stop it twice once two are running."""
    with worker.started("worker", "run", target, "--queue", "slow") as running:
        runner.wait_until(lambda: admin.queue_metrics("slow").locked_count == 2, "two messages leased")
        running.process.send_signal(signal.SIGTERM)
        running.wait_for_stderr("pgqrs: stopping")
        return running.signal(signal.SIGINT, rules=False)  # the runtime's warnings, then the error


def test_a_second_signal_gives_running_messages_back_and_exits_130(
    worker: runner.Cli, admin: sync.PgqrsAdmin, raw: Raw, schema: str
) -> None:
    slow = send(admin, "slow", [{"seconds": 600} for _ in range(3)])

    result = stop_twice(worker, admin, "tasks:app")  # ten minutes, were the threads waited for

    assert (result.code, result.stdout) == (130, "")
    given_back = "pgqrs: error: interrupted: stopped at once, 2 message(s) given back"
    assert result.stderr.splitlines()[-1] == given_back
    assert untouched(raw, schema, slow) == 3  # visible at once, the deliveries not counted


def test_a_second_signal_exits_130_while_blocking_handlers_still_run(
    worker: runner.Cli, admin: sync.PgqrsAdmin, raw: Raw, schema: str
) -> None:
    slow = send(admin, "slow", [{"seconds": 600} for _ in range(3)])

    result = stop_twice(worker, admin, "sync_tasks:app")  # ten minutes, were the threads waited for

    assert (result.code, result.stdout) == (130, "")
    none_given_back = "pgqrs: error: interrupted: stopped at once, 0 message(s) given back"
    assert result.stderr.splitlines()[-1] == none_given_back
    # Their messages were not given back while the handlers might still run: they come back when
    # their leases end (the default lock time, 5 s), the third one never touched.
    assert "2 handler(s) still running at shutdown; their messages come back when their leases end" in (
        result.stderr
    )
    assert untouched(raw, schema, slow) == 1
    runner.wait_until(lambda: admin.queue_metrics("slow").pending_count == 3, "the leases to end")


def test_live_counts_on_a_terminal_below_the_log_lines(
    worker: runner.Cli, admin: sync.PgqrsAdmin, apps: Path
) -> None:
    # One message is done at once; the others wait for the test to see it counted.
    gate = str(apps / "open")
    send(admin, "gated", [{"n": 1}, {"unwanted": True, "gate": gate}, {"gate": gate}])
    screen = terminal.Terminal(worker.with_environment(TERM="xterm"))

    with screen.started("worker", "run", "tasks:app", "--queue", "gated", "--until-empty") as running:
        running.wait_for_screen(re.compile(r"gated +handled 3 +succeeded 1 +retried 0 +dead-lettered 0"))
        (apps / "open").touch()
        result = running.finish()

    assert result.code == 0, result.stderr
    assert "pgqrs worker: working" in result.stderr
    # The failure's log line starts a line of its own (the live lines were erased first), not
    # the end of the live line the cursor was on.
    logged = re.search(r"(.{0,12})[0-9-]{10} [0-9:,]{12} ERROR pgqrs.worker: queue gated", result.stderr)
    assert logged is not None and logged.group(1).endswith(("\n", "\x1b[2K")), result.stderr
    assert result.stdout.splitlines()[-1].split() == ["total", "3", "2", "0", "1", "0"]


USAGE_CASES: list[tuple[list[str], str]] = [
    (["tasks"], "expected MODULE:ATTR (e.g. myproject.tasks:app), got 'tasks'"),
    (["no_such_module:app"], "cannot import 'no_such_module': no module named 'no_such_module'"),
    (["broken:app"], "importing 'broken' failed: RuntimeError: boom at import"),
    (
        ["needs_dependency:app"],
        "importing 'needs_dependency' failed: ModuleNotFoundError: No module named 'no_such_dependency'",
    ),
    (["tasks:missing"], "module 'tasks' has no attribute 'missing'"),
    (["tasks:not_an_app"], "tasks:not_an_app is not a pgqrs.App or pgqrs.sync.App (it is of type 'int')"),
    (["tasks:empty_app"], "tasks:empty_app has no handlers: register one with @app.handler(queue)"),
    (
        ["tasks:app", "--queue", "emails", "--queue", "nope"],
        "tasks:app has no handler for queue(s) nope (it handles emails, reports, slow, gated)",
    ),
    (["tasks:app", "--concurrency", "0"], "Invalid value for '--concurrency'"),
    (["tasks:app", "--shutdown-timeout", "-1"], "must be a finite, non-negative number of seconds"),
    (["tasks:app", "--metrics-port", "65536"], "Invalid value for '--metrics-port'"),
]


def test_bad_apps_and_queues_are_usage_errors(offline: runner.Cli, apps: Path) -> None:
    results = offline.many(*(["worker", "run", *arguments] for arguments, _expected in USAGE_CASES))
    for (arguments, expected), result in zip(USAGE_CASES, results, strict=True):
        assert result.code == 2, (arguments, result.stderr)
        assert expected in result.error, (arguments, result.error)


def test_without_any_dsn_it_runs_on_the_embedded_server(
    unconfigured: runner.Cli, apps: Path, data_home: Path
) -> None:
    home = unconfigured.with_environment(XDG_DATA_HOME=str(data_home))
    result = home.run("worker", "run", "tasks:app", "--queue", "emails", "--until-empty").expect(0)
    assert "no database configured; using the embedded PostgreSQL server" in result.stderr
    assert result.stdout.splitlines()[-1].split() == ["total", "0", "0", "0", "0", "0"]

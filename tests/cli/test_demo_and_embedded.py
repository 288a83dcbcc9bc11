"""`pgqrs demo` (the main job) and the embedded server used when no DSN is configured."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgqrs import sync
from tests import embedded_server
from tests.cli import runner


def test_demo_reports_rates_and_checks_delivery(cli: runner.Cli) -> None:
    summary = cli.run("--format", "json", "demo", "--messages", "600", "--workers", "3", "--batch-size", "50")
    document = summary.expect(0).json()
    assert document["every_message_archived_once"] is True
    assert (document["messages"], document["workers"], document["archived_distinct"]) == (600, 3, 600)
    assert document["handled"] == 600  # by the worker runtime's handlers
    assert document["metrics"]["archived_count"] == 600
    assert document["enqueue_per_second"] > 0
    table = cli.run("demo", "--messages", "200", "--work-ms", "1").expect(0)
    assert "every message archived exactly once" in table.stdout
    assert "workers:    2 (pgqrs.App runs), 100 handlers at once each" in table.stdout
    assert "msg/s" in table.stdout


@pytest.mark.parametrize("arguments", [["--messages", "0"], ["--workers", "-1"], ["--batch-size", "x"]])
def test_demo_usage_errors(offline: runner.Cli, arguments: list[str]) -> None:
    offline.run("demo", *arguments).expect(2)


def test_without_any_dsn_the_cli_uses_the_embedded_server(unconfigured: runner.Cli, data_home: Path) -> None:
    home = unconfigured.with_environment(XDG_DATA_HOME=str(data_home))
    installed = home.run("install").expect(0)
    assert "no database configured; using the embedded PostgreSQL server" in installed.stderr
    assert str(data_home / "pgqrs" / "embedded") in installed.stderr
    home.run("queue", "create", "kept").expect(0)
    # A second process finds the same data: the server and its data persist between runs.
    listed = home.run("--format", "json", "queue", "list").expect(0)
    assert [queue["queue_name"] for queue in listed.json()] == ["kept"]
    sql = home.run("install", "--print-sql").expect(0)
    assert "using the embedded" not in sql.stderr


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Return a data directory for an embedded server of the test's own; stop it afterwards."""
    pytest.importorskip("pgserver")
    base = Path(tempfile.mkdtemp(prefix="pgqrs-cli-embedded-"))
    yield base / "data"
    if (base / "data").exists():
        embedded_server.stop(base, base / "data")
    shutil.rmtree(base, ignore_errors=True)


def _exited(pid: int) -> bool:
    psutil = pytest.importorskip("psutil")
    try:
        # A zombie has exited: the container's first process may be slow to reap it.
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_embedded_status_and_stop(unconfigured: runner.Cli, data_dir: Path) -> None:
    home = unconfigured.with_environment(PGQRS_DSN=f"embedded:{data_dir}")
    not_yet = home.run("--format", "json", "embedded", "status").expect(0).json()
    assert not_yet == {
        "data_dir": str(data_dir),
        "running": False,
        "pid": None,
        "port": None,
        "socket_dir": None,
    }
    home.run("install").expect(0)
    home.run("queue", "create", "kept").expect(0)

    pid_file = (data_dir / "postmaster.pid").read_text().splitlines()
    pid, port = int(pid_file[0]), int(pid_file[3])
    running, running_text = home.many(["--format", "json", "embedded", "status"], ["embedded", "status"])
    assert running.expect(0).json() == {
        "data_dir": str(data_dir),
        "running": True,
        "pid": pid,
        "port": port,
        "socket_dir": str(data_dir),
    }
    assert running_text.expect(0).stdout.splitlines() == [
        f"data_dir    {data_dir}",
        "running     true",
        f"pid         {pid}",
        f"port        {port}",
        f"socket_dir  {data_dir}",
    ]

    stopped = home.run("--format", "json", "embedded", "stop").expect(0).json()
    assert stopped == {"data_dir": str(data_dir), "stopped": True, "pid": pid}
    assert not (data_dir / "postmaster.pid").exists() and _exited(pid)
    again = home.run("embedded", "stop").expect(0)
    assert again.stdout.splitlines() == [f"data_dir  {data_dir}", "stopped   false", "pid       -"]
    assert "running     false" in home.run("embedded", "status").expect(0).stdout
    # The data is kept: the next command starts the server again on it.
    listed = home.run("--format", "json", "queue", "list").expect(0)
    assert [queue["queue_name"] for queue in listed.json()] == ["kept"]


def test_embedded_commands_use_the_default_data_directory(unconfigured: runner.Cli, data_home: Path) -> None:
    home = unconfigured.with_environment(XDG_DATA_HOME=str(data_home))
    status = home.run("--format", "json", "embedded", "status").expect(0)
    assert status.json()["data_dir"] == str(data_home / "pgqrs" / "embedded")
    assert status.json()["running"] is False
    assert status.stderr == ""  # nothing connects, so nothing to announce


def test_embedded_commands_refuse_another_server(offline: runner.Cli) -> None:
    refused = offline.with_environment(PGQRS_DSN="postgresql://me:Sup3r-S3cret@127.0.0.1:1/db")
    for command in ("status", "stop"):
        assert refused.run("embedded", command).expect(2).error == (
            "pgqrs: error: the configured DSN (postgresql://me:***@127.0.0.1:1/db) is not the embedded"
            " server: pass --dsn embedded or --dsn embedded:PATH"
        )


def test_interrupted_demo_stops_its_workers_and_removes_its_queue(
    cli: runner.Cli, admin: sync.PgqrsAdmin
) -> None:
    # At least 10 s of work (200 batches of 100 ms over 2 workers): it is interrupted mid-way.
    with cli.started("demo", "--messages", "2000", "--batch-size", "10", "--work-ms", "100") as demo:
        runner.wait_until(lambda: len(admin.list_workers()) == 2, "the demo's two workers")
        result = demo.interrupt()
    assert (result.code, result.stderr) == (130, "pgqrs: error: interrupted\n")
    assert (admin.list_queues(), admin.list_workers()) == ([], [])
    assert (admin.messages.count(), admin.archive.count()) == (0, 0)

"""`pgqrs demo` (the main job) and the embedded server used when no DSN is configured."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import embedded_server
from tests.cli import runner


def test_demo_reports_rates_and_checks_delivery(cli: runner.Cli) -> None:
    summary = cli.run("--format", "json", "demo", "--messages", "600", "--workers", "3", "--batch-size", "50")
    document = summary.expect(0).json()
    assert document["every_message_archived_once"] is True
    assert (document["messages"], document["workers"], document["archived_distinct"]) == (600, 3, 600)
    assert document["metrics"]["archived_count"] == 600
    assert document["enqueue_per_second"] > 0
    table = cli.run("demo", "--messages", "200", "--work-ms", "1").expect(0)
    assert "every message archived exactly once" in table.stdout
    assert "msg/s" in table.stdout


@pytest.mark.parametrize("arguments", [["--messages", "0"], ["--workers", "-1"], ["--batch-size", "x"]])
def test_demo_usage_errors(offline: runner.Cli, arguments: list[str]) -> None:
    offline.run("demo", *arguments).expect(2)


@pytest.fixture
def data_home() -> Iterator[Path]:
    """Return an XDG_DATA_HOME of the test's own; stop the embedded server started there."""
    pytest.importorskip("pgserver")
    # Under /tmp directly: as root the server runs as pgserver's user (see tests/embedded_server).
    base = Path(tempfile.mkdtemp(prefix="pgqrs-cli-embedded-"))
    yield base
    data = base / "pgqrs" / "embedded"
    if data.exists():
        embedded_server.stop(base, data)
    shutil.rmtree(base, ignore_errors=True)


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

"""The runnable examples (the seed's usage sections in Python) work against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples import worker_app_sync
from pgqrs import sync

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, dsn: str, schema: str) -> str:
    environment = {**os.environ, "PGQRS_DSN": dsn, "PGQRS_SCHEMA": schema}
    environment.pop("PGQRS_CONFIG_FILE", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_producer_then_consumer(dsn: str, schema: str) -> None:
    produced = run_example("producer.py", dsn, schema)
    assert "Enqueued 3 promotional emails" in produced
    consumed = run_example("consumer.py", dsn, schema)
    assert "archived successfully" in consumed
    # One archived, three promotions deleted; the delayed newsletter stays invisible.
    assert "Processing batch of 3 emails" in consumed
    assert "Successfully processed 3 emails" in consumed


def test_full_application(dsn: str, schema: str) -> None:
    output = run_example("full_application.py", dsn, schema)
    assert "Archived email message" in output
    assert "Successfully deleted 5 task messages" in output
    assert "Email queue metrics: 0 pending messages" in output


def test_table_interface(dsn: str, schema: str) -> None:
    output = run_example("table_interface.py", dsn, schema)
    assert "System totals: 1 queues, 1 workers, 2 messages, 1 archived" in output
    assert "Found 1 workers and 2 messages" in output


def test_archive_api(dsn: str, schema: str) -> None:
    output = run_example("archive_api.py", dsn, schema)
    assert "Queue has 1 archived messages" in output
    assert "Archive purged (1 records)" in output


def _counts(**counts: int) -> dict[str, object]:
    return {**counts, "released": 0}


# What the worker apps do with the jobs they enqueue: each outcome once (see the examples).
WORKER_APP_STATS = {
    "handled": 7,
    "succeeded": 4,
    "retried": 2,
    "dead_lettered": 1,
    "released": 0,
    "by_queue": {
        "emails": _counts(handled=4, succeeded=2, retried=1, dead_lettered=1),
        "thumbnails": _counts(handled=3, succeeded=2, retried=1, dead_lettered=0),
    },
}


@pytest.mark.parametrize("name", ["worker_app.py", "worker_app_sync.py"])
def test_worker_app_run_as_a_script(name: str, dsn: str, schema: str) -> None:
    output = run_example(name, dsn, schema)
    assert "sent 'welcome' to ada@example.com" in output
    assert "sent 'welcome' to bob@example.com" in output  # after the Retry the server asked for
    assert "thumbnail of dog.png made on attempt 2" in output  # after the backoff
    assert output.splitlines()[-1] == "handled 7: 4 succeeded, 2 retried, 1 dead-lettered"


@pytest.mark.parametrize("target", ["examples.worker_app:app", "examples.worker_app_sync:app"])
def test_worker_app_run_by_pgqrs_worker_run(
    target: str, config: sync.Config, dsn: str, schema: str, tmp_path: Path
) -> None:
    worker_app_sync.enqueue_jobs(config)
    environment = {**os.environ, "PGQRS_DSN": dsn, "PGQRS_SCHEMA": schema}
    environment.pop("PGQRS_CONFIG_FILE", None)
    stats = tmp_path / "stats.json"  # stdout has what the handlers print
    arguments = ["worker", "run", target, "--until-empty", "--format", "json", "--out", str(stats)]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("pgqrs")), *arguments],
        cwd=ROOT,  # the examples are importable from the repository's root, as with python -m
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "sent 'welcome' to ada@example.com" in result.stdout
    assert json.loads(stats.read_text()) == WORKER_APP_STATS


def test_periodic_app_handles_one_message_per_tick(dsn: str, schema: str) -> None:
    lines = run_example("periodic_app.py", dsn, schema).splitlines()
    assert len(lines) == len(set(lines)) == 3  # three ticks, each once
    assert all(
        line.startswith("load report for ") and line.endswith(" UTC (report every 2s)") for line in lines
    )
    with sync.PgqrsAdmin.connect(sync.Config.from_dsn_with_schema(dsn, schema)) as admin:
        assert admin.list_schedules() == []  # the example removes its schedule


@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("*.py")))
def test_every_example_is_covered(name: str) -> None:
    covered = {"producer.py", "consumer.py", "full_application.py", "table_interface.py", "archive_api.py"}
    covered |= {"worker_app.py", "worker_app_sync.py", "periodic_app.py"}
    assert name in covered

"""The runnable examples (the seed's usage sections in Python) work against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


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


@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("*.py")))
def test_every_example_is_covered(name: str) -> None:
    covered = {"producer.py", "consumer.py", "full_application.py", "table_interface.py", "archive_api.py"}
    assert name in covered

"""The named-query loader and the sync generator (no database)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pgqrs import _queries

ROOT = Path(__file__).resolve().parents[2]


def test_every_file_parses_with_unique_names() -> None:
    names: list[str] = []
    for file in _queries.FILES:
        names.extend(_queries.parse(_queries.read_sql_file(file)))
    assert len(names) == len(set(names))
    assert {"message_dequeue", "archive_move", "queue_get", "queue_metrics"} <= set(names)


def test_names_start_with_their_file() -> None:
    prefixes = {
        "admin.sql": "admin_",
        "archive.sql": "archive_",
        "messages.sql": "message_",
        "queues.sql": "queue_",
        "schedules.sql": "schedule_",
        "workers.sql": "worker_",
    }
    for file, prefix in prefixes.items():
        assert all(name.startswith(prefix) for name in _queries.parse(_queries.read_sql_file(file)))


def test_schema_is_quoted_as_an_identifier() -> None:
    text = _queries.for_schema('we"ird')["queue_get"].text.decode()
    assert 'FROM "we""ird".pgqrs_queues' in text


def test_every_percent_sign_is_a_placeholder() -> None:
    # Comments are sent with the statement: a lone % there breaks psycopg's placeholder parsing.
    for name, query in _queries.for_schema("public").items():
        text = query.text.decode()
        assert re.fullmatch(r"([^%]|%\([a-z_]+\)[sb]|%%)*", text, re.DOTALL), name


def test_every_statement_shows_its_sql_in_pg_stat_activity() -> None:
    # pg_stat_activity keeps a statement's first 1 kB (track_activity_query_size): comments at
    # its top must leave room for the SQL, or operators (and the fault tests) see only comments.
    schema = "s" * 63  # the longest schema name
    for name, query in _queries.for_schema(schema).items():
        text = query.text.decode()
        first_sql_line = next(line for line in text.splitlines() if not line.startswith("--"))
        assert text.index(first_sql_line) < 512, name
        assert text.find(f'"{schema}".') < 1024 - 100, name
    dequeue = _queries.for_schema(schema)["message_dequeue"].text.decode()
    assert dequeue.index("pgqrs_dequeue(") < 1024, "the fault tests find a blocked dequeue by it"


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        _queries.parse("-- name: a :one\nSELECT 1;\n-- name: a :one\nSELECT 2;\n")


def test_generated_sync_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools/unasync.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr

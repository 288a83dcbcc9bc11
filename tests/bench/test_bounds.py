"""The harness's bounds (`--bounds`): floors under pgqrs, measured and checked like the rest.

raw+schema must carry what issue 2 requires of the tables (otherwise it is no floor), and both
bounds must run every workload with delivery checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgqrs.bench import run
from pgqrs.bench.environment import Environment
from pgqrs.bench.targets import RawTarget


@pytest.fixture
def schema_bound(dsn: str) -> Iterator[RawTarget]:
    target = RawTarget(Environment.create(dsn), required_schema=True)
    yield target
    target.close()


def _foreign_keys(target: RawTarget) -> set[tuple[str, str, str]]:
    rows = target.environment.connection.execute(
        "SELECT conrelid::regclass::text, a.attname, confrelid::regclass::text"
        " FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
        " WHERE c.contype = 'f' AND c.connamespace = %s::regnamespace",
        (target.environment.schema,),
    ).fetchall()
    prefix = target.environment.schema + "."
    keys = {
        (table.removeprefix(prefix), column, parent.removeprefix(prefix)) for table, column, parent in rows
    }
    return {key for key in keys if key[0].startswith("raw_")}  # pgqrs is installed beside them


def test_raw_schema_bound_has_the_foreign_keys_issue_2_requires(schema_bound: RawTarget) -> None:
    assert _foreign_keys(schema_bound) == {
        ("raw_messages", "queue_id", "raw_queues"),
        ("raw_messages", "worker_id", "raw_workers"),
        ("raw_archive", "queue_id", "raw_queues"),
    }
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        schema_bound.environment.execute(
            "INSERT INTO {schema}.raw_messages (queue_id, payload) VALUES (2, '{{}}')"
        )


def _shape(target: RawTarget, table: str) -> tuple[list[str], list[str]]:
    """Return a table's columns and its index definitions with the table name taken out."""
    environment = target.environment
    columns = environment.connection.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        (f"{environment.schema}.{table}",),
    ).fetchall()
    indexes = environment.connection.execute(
        "SELECT regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') FROM pg_index"
        " WHERE indrelid = %s::regclass ORDER BY 1",
        (f"{environment.schema}.{table}",),
    ).fetchall()
    return [row[0] for row in columns], [row[0] for row in indexes]


def test_raw_schema_bound_has_every_column_and_index_of_the_installed_tables(
    schema_bound: RawTarget,
) -> None:
    for raw_table, pgqrs_table in (("raw_messages", "pgqrs_messages"), ("raw_archive", "pgqrs_archive")):
        assert _shape(schema_bound, raw_table) == _shape(schema_bound, pgqrs_table)
    columns, indexes = _shape(schema_bound, "raw_messages")
    assert {"priority", "dedup_key", "trace_context", "worker_id"} <= set(columns)
    assert any("payload ->> 'type'" in index for index in indexes)


def test_raw_schema_bound_leases_to_its_worker_and_acks_only_what_it_holds(schema_bound: RawTarget) -> None:
    queue = schema_bound.queue
    first, second = queue.enqueue_batch([{"n": 1}, {"n": 2}])
    leased = queue.dequeue(1)
    assert [row[0] for row in leased] == [first]
    assert (
        schema_bound.environment.scalar(
            "SELECT count(*) FROM {schema}.raw_messages WHERE worker_id = 1 AND dequeued_at IS NOT NULL"
        )
        == 1
    )
    assert queue.archive([first, second]) == 1  # the second is not leased: it stays
    assert schema_bound.stored() == 1
    assert schema_bound.archived() == 1


def test_bounds_run_every_workload_with_delivery_checked(dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "bounds.json"
    arguments = ["--dsn", dsn, "--bounds", "--api", "sync", "--workloads", "W1,W2,W3,W3a,W4,W5"]
    arguments += ["--messages", "W1=100,W2=300,W3=300,W3a=300,W4=50,W5=600", "--repeat", "1"]
    assert run([*arguments, "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    for workload in ("W1", "W2", "W3", "W3a", "W4", "W5"):
        assert set(document["ratios"][workload]) == {"raw+schema", "raw-async+schema", "sync"}
    # --bounds also measures W1p (64 producers on one Producer) against one connection's W1 raw.
    assert {item["target"] for item in document["producers"]} == {"raw", "sync"}
    judged = {line["what"]: line["status"] for line in document["targets"]}
    assert judged["W1 sync >= 0.9 x raw+schema"] in ("met", "NOT MET")
    assert judged["W1p sync, 64 threads on one Producer >= 3 x W1 raw (1 connection)"] in ("met", "NOT MET")

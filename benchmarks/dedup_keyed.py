"""Keyed enqueues and keyed acknowledgements: this tree against a variant, interleaved slices.

    python -m pgqrs.bench.variant /tmp/v pgqrs_main --source ../main/src/pgqrs
    PYTHONPATH=/tmp/v python -m benchmarks.dedup_keyed [--dsn DSN] [--variant pgqrs_main]

Three targets, each in a schema of its own (created and dropped): the variant, and this tree
with a dedup window of 0 and of 1 hour. Each repetition enqueues SLICES x SLICE new keys one at
a time, a slice per target in turn, then drains each queue with dequeue_batch + archive_batch
the same way. Prints time per message and after / before ratios (docs/performance.md).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
import uuid
from typing import Any

import psycopg

from pgqrs import sync

SLICE, SLICES, REPEATS = 100, 10, 3


def _target(module: Any, dsn: str, label: str, window: float | None) -> dict[str, Any]:
    schema = f"pgqrs_bench_dedup_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    config = module.Config.from_dsn_with_schema(dsn, schema)
    admin = module.PgqrsAdmin.connect(config)
    admin.install()
    queue = admin.create_queue("k") if window is None else admin.create_queue("k", dedup_window=window)
    return {
        "label": label,
        "schema": schema,
        "admin": admin,
        "producer": module.Producer(admin.pool, queue, config),
        "consumer": module.Consumer(admin.pool, queue, config),
        "enqueue": 0.0,
        "acknowledge": 0.0,
    }


def _repetition(targets: list[dict[str, Any]]) -> None:
    for index in range(SLICES):
        for target in targets:
            started = time.perf_counter()
            for number in range(SLICE):
                target["producer"].enqueue({"n": number}, dedup_key=f"key-{index}-{number}")
            target["enqueue"] += time.perf_counter() - started
    for _round in range(SLICES):
        for target in targets:
            started = time.perf_counter()
            leased = target["consumer"].dequeue_batch(SLICE)
            target["consumer"].archive_batch([message.id for message in leased])
            target["acknowledge"] += time.perf_counter() - started


def _drop(dsn: str, target: dict[str, Any]) -> None:
    target["consumer"].close()
    target["admin"].close()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{target["schema"]}" CASCADE')


def main() -> None:
    """Run the repetitions and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    default = os.environ.get("PGQRS_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--dsn", default=default)
    parser.add_argument("--variant", default="pgqrs_main")
    arguments = parser.parse_args()
    before = importlib.import_module(f"{arguments.variant}.sync")
    per_message: dict[str, list[tuple[float, float]]] = {}
    messages = SLICE * SLICES
    for _repeat in range(REPEATS):
        targets = [
            _target(before, arguments.dsn, "before", None),
            _target(sync, arguments.dsn, "window 0", 0),
            _target(sync, arguments.dsn, "window 1 h", 3600),
        ]
        try:
            _repetition(targets)
        finally:
            for target in targets:
                _drop(arguments.dsn, target)
        for target in targets:
            times = (target["enqueue"] / messages * 1e6, target["acknowledge"] / messages * 1e6)
            per_message.setdefault(target["label"], []).append(times)
    _report(per_message)


def _report(per_message: dict[str, list[tuple[float, float]]]) -> None:
    base = per_message["before"]
    for label, values in per_message.items():
        for column, name in ((0, "keyed enqueue"), (1, "dequeue_batch + archive_batch")):
            ratios = [value[column] / first[column] for value, first in zip(values, base, strict=True)]
            print(
                f"{label:10} {name:30} {statistics.median(v[column] for v in values):7.0f} us/msg, "
                f"after / before {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            )


if __name__ == "__main__":
    main()

"""Scenario 1 - churn: many messages, 8 consumer processes with mixed batch sizes and lock times.

Some consumers outlive their lease now and then (their late acknowledgement must return False
and the message go to someone else exactly once); some extend their lease first (and keep it).
"""

from __future__ import annotations

import time
from typing import Any

from pgqrs import sync as pgqrs
from tests.reliability import harness

# batch size, lock time, acknowledgement style, and how often work outlives the lease.
PROFILES: list[dict[str, Any]] = [
    {"batch_size": 1, "lock_time": 5, "ack": "delete"},
    {"batch_size": 10, "lock_time": 5, "ack": "archive", "batch_ack": True},
    {"batch_size": 50, "lock_time": 10, "ack": "mixed", "batch_ack": True},
    {"batch_size": 5, "lock_time": 1, "ack": "delete", "slow_fraction": 0.15, "slow_seconds": 1.5},
    {
        "batch_size": 3,
        "lock_time": 1,
        "ack": "archive",
        "extend_fraction": 0.3,
        "extend_seconds": 3,
        "slow_fraction": 0.15,
        "slow_seconds": 1.5,
    },
    {"batch_size": 25, "lock_time": 3, "ack": "delete", "batch_ack": True, "extend_fraction": 0.1},
    {"batch_size": 2, "lock_time": 1, "ack": "mixed", "slow_fraction": 0.15, "slow_seconds": 1.2},
    {"batch_size": 100, "lock_time": 30, "ack": "archive", "batch_ack": True},
]
PRODUCERS = 2


def test_churn(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("churn")
    no_dead_letters = {"max_read_count": 0}  # slow consumers cause redeliveries; keep every one
    started = time.monotonic()
    for index in range(scale.churn_consumers):
        profile = PROFILES[index % len(PROFILES)]
        workers.start(
            "consume", f"consumer-{index}", queue="churn", seed=index, config=no_dead_letters, **profile
        )
    per_producer = scale.churn_messages // PRODUCERS
    producers = [f"producer-{index}" for index in range(PRODUCERS)]
    for index, name in enumerate(producers):
        workers.start("produce", name, queue="churn", count=per_producer, seed=100 + index, max_batch=100)

    elapsed = harness.drain(workers, schema, queue.id, producers, timeout=900)
    verdict = harness.verdict_of(workers, schema, queue.id)
    total = time.monotonic() - started

    figures.update(
        messages=verdict.enqueued,
        consumers=scale.churn_consumers,
        producers=PRODUCERS,
        seconds_to_drain=round(elapsed, 1),
        messages_per_second=round(verdict.enqueued / total),
        leases_extended=len(workers.checker().extensions),
        **verdict.figures(),
    )
    assert verdict.enqueued == per_producer * PRODUCERS
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued
    assert verdict.dead_lettered == 0
    assert verdict.false_acks > 0, "no lease was ever taken over: the run did not test takeovers"
    assert all(code == 0 for code in workers.exit_codes().values()), workers.exit_codes()

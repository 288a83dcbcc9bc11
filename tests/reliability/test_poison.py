"""Scenario 14 - poison message: one that crashes its consumer every time is not redelivered forever.

A supervisor restarts the consumer process after each crash. After max_read_count deliveries
(the default, 5) the next dequeue moves the message to the archive with its reason, visible in
the metrics; every other message is acknowledged exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness

GOOD = 20
CRASH_EXIT = 3


def test_poison_message_is_dead_lettered_after_max_read_count(
    admin: pgqrs.PgqrsAdmin, workers: harness.Workers, schema: str, figures: dict[str, Any]
) -> None:
    max_read_count = admin.config.max_read_count
    assert max_read_count == 5  # the default
    queue = admin.create_queue("poison")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    payloads = [{"key": f"good-{index}"} for index in range(GOOD // 2)]
    payloads += [{"key": "poison"}] + [{"key": f"good-{index}"} for index in range(GOOD // 2, GOOD)]
    sent = producer.batch_enqueue(payloads)
    recorder.enqueued(sent)
    recorder.close()
    poison_id = next(message.id for message in sent if message.payload["key"] == "poison")

    crashes = 0
    for attempt in range(3 * max_read_count):
        name = f"consumer-{attempt}"
        # Batch size 1: a crash takes down only the poison message, not its neighbours.
        process = workers.start(
            "consume", name, queue="poison", batch_size=1, lock_time=1, crash_on_key="poison"
        )
        harness.wait_until(
            lambda process=process: (
                process.poll() is not None or admin.queue_metrics("poison").dead_letter_count > 0
            ),
            60,
            "the consumer to crash or the poison message to be buried",
        )
        if process.poll() is None:
            break  # buried: this consumer never met it
        assert process.returncode == CRASH_EXIT, workers.log(name)
        crashes += 1

    harness.wait_until(
        lambda: harness.count_messages(workers.dsn, schema, queue.id) == 0, 60, "the queue to empty"
    )
    metrics = admin.queue_metrics("poison")
    buried = admin.archive.filter_by_fk(queue.id)
    workers.stop()
    dead = [row for row in buried if row.dead_letter_reason is not None]
    verdict = harness.verdict_of(workers, schema, queue.id)
    figures.update(
        messages=len(sent),
        faults=f"consumer crash on every delivery of 1 message ({crashes} crashes)",
        dead_letter_count=metrics.dead_letter_count,
        dead_letter_reason=dead[0].dead_letter_reason if dead else None,
        **verdict.figures(),
    )
    assert crashes == max_read_count
    assert [row.original_msg_id for row in dead] == [poison_id]
    assert dead[0].read_ct == max_read_count
    assert f"max_read_count = {max_read_count}" in (dead[0].dead_letter_reason or "")
    assert (metrics.dead_letter_count, metrics.total_messages) == (1, 0)
    assert verdict.ok, str(verdict)
    assert (verdict.acknowledged, verdict.dead_lettered) == (GOOD, 1)
    _check_cli(workers.dsn, schema, poison_id)


def _check_cli(dsn: str, schema: str, poison_id: int) -> None:
    """The dead letter shows in `pgqrs queue metrics` and `pgqrs archive list` (JSON output)."""
    try:
        import pgqrs.cli  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"library checks passed; the pgqrs CLI is not available: {exc}")

    def cli(*arguments: str) -> Any:
        command = [sys.executable, "-m", "pgqrs", "--dsn", dsn, "--schema", schema, "--format", "json"]
        result = subprocess.run(
            [*command, *arguments], capture_output=True, text=True, timeout=60, check=True
        )
        return json.loads(result.stdout)

    metrics = cli("queue", "metrics", "poison")
    metrics = metrics[0] if isinstance(metrics, list) else metrics
    assert metrics["dead_letter_count"] == 1, metrics
    archived = cli("archive", "list", "poison")
    dead = [row for row in archived if row.get("dead_letter_reason")]
    assert len(dead) == 1 and poison_id in (dead[0].get("msg_id"), dead[0].get("original_msg_id")), dead

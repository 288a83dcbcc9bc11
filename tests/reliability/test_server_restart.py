"""Scenario 5 - server restart under load: `stop -m immediate` (a crash), then start again.

Producers and consumers keep running (the same processes, no restart): they get typed errors
while the server is down and resume on their own within 30 s of it answering again. Nothing
acknowledged is lost: every archive acknowledgement that returned True is in the archive after
crash recovery, and every delete that returned True stays deleted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness

RECOVERY_LIMIT_SECONDS = 30
PRODUCERS = 2
CONSUMERS = 3


@pytest.fixture
def server(direct_dsn: str) -> Iterator[harness.Server]:
    """Return the local cluster; it is always running again when the test ends."""
    try:
        cluster = harness.Server(direct_dsn)
    except (LookupError, OSError) as exc:
        pytest.skip(f"cannot restart the server here: {exc}")
    try:
        yield cluster
    finally:
        cluster.ensure_running()


def _acknowledged(workers: harness.Workers) -> int:
    return sum(1 for acks in workers.checker().acks.values() for ack in acks if ack["ok"])


def _enqueued_after(workers: harness.Workers, moment: float) -> bool:
    return any(note.get("ok") == "enqueue" and note["at"] > moment for note in workers.checker().notes)


@pytest.mark.disruptive
def test_server_restart_under_load(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    server: harness.Server,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("restart")
    per_producer = scale.restart_messages // PRODUCERS
    for index in range(CONSUMERS):
        workers.start(
            "consume",
            f"consumer-{index}",
            queue="restart",
            batch_size=[1, 10, 25][index],
            lock_time=5,
            ack=["archive", "mixed", "archive"][index],
            batch_ack=index == 2,
            seed=index,
            connect_within=120,
            config={"max_read_count": 0, "connection_timeout_seconds": 5},
        )
    producers = [f"producer-{index}" for index in range(PRODUCERS)]
    for index, name in enumerate(producers):
        workers.start(
            "produce",
            name,
            queue="restart",
            count=per_producer,
            max_batch=20,
            pause_seconds=0.1,  # production outlasts the restart, so recovery has work to show
            seed=index,
            config={"connection_timeout_seconds": 5},
        )
    workers.wait_ready()
    harness.wait_until(lambda: _acknowledged(workers) >= 200, 120, "the load to get going", 0.1)

    acknowledged_before = _acknowledged(workers)
    assert all(workers.processes[name].poll() is None for name in producers), "load ended too soon"
    stopped = time.monotonic()
    server.stop_immediate()
    time.sleep(2)  # down for a moment: clients see refused connections
    server.start()
    harness.wait_until(server.answers, 120, "the server to answer after start", 0.2)
    up_wall, up = time.time(), time.monotonic()
    before = _acknowledged(workers)
    consumers_back = harness.wait_until(
        lambda: _acknowledged(workers) > before, 60, "consumers to acknowledge again", 0.1
    )
    producers_back = harness.wait_until(
        lambda: _enqueued_after(workers, up_wall), 60, "producers to enqueue again", 0.1
    )
    outage = up - stopped

    elapsed = harness.drain(workers, schema, queue.id, producers, timeout=600)
    verdict = harness.verdict_of(workers, schema, queue.id)
    errors = [note for note in workers.checker().notes if "error" in note]
    figures.update(
        messages=verdict.enqueued,
        faults="1 immediate-mode stop (crash) and start of PostgreSQL under load",
        acknowledged_before_the_crash=acknowledged_before,
        server_down_seconds=round(outage, 1),
        consumers_recovered_seconds=round(consumers_back, 2),
        producers_recovered_seconds=round(producers_back, 2),
        client_errors=len(errors),
        seconds_to_drain_after_restart=round(elapsed, 1),
        **verdict.figures(),
    )
    assert max(consumers_back, producers_back) <= RECOVERY_LIMIT_SECONDS
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued >= scale.restart_messages
    assert all(code == 0 for code in workers.exit_codes().values()), workers.exit_codes()

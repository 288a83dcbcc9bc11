"""Scenario 2 - crash: `kill -9` a consumer holding leases; its messages come back after the lease.

They come back no earlier than their lease end (database clock), with read_ct + 1, and are then
acknowledged exactly once by another consumer.
"""

from __future__ import annotations

import signal
from typing import Any

from pgqrs import sync as pgqrs
from tests.reliability import checker, harness

LOCK_SECONDS = 3
HELD = 10


def test_killed_consumer_leases_come_back_after_the_lease(
    admin: pgqrs.PgqrsAdmin, workers: harness.Workers, schema: str, figures: dict[str, Any]
) -> None:
    queue = admin.create_queue("crash")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    recorder.enqueued(producer.batch_enqueue([{"key": f"m{index}"} for index in range(2 * HELD)]))
    workers.start(
        "hold", "victim", queue="crash", batch_size=HELD, lock_time=LOCK_SECONDS, go_file="/nonexistent"
    )
    workers.wait_ready("victim")
    held = {lease.message_id: lease for leases in workers.checker().leases.values() for lease in leases}
    assert len(held) == HELD

    workers.signal("victim", signal.SIGKILL)
    assert workers.wait("victim", 30) == -signal.SIGKILL

    survivor = pgqrs.Consumer(admin.pool, queue, admin.config)
    came_back: dict[int, pgqrs.QueueMessage] = {}

    def take_what_is_visible() -> bool:
        for message in survivor.dequeue_batch(100, lock_time=60):
            recorder.leased("survivor", [message])
            if message.id in held:
                came_back[message.id] = message
            assert survivor.archive(message.id)
            recorder.acked("survivor", "archive", message.id, message.read_ct, True)
        return len(came_back) == HELD

    harness.wait_until(take_what_is_visible, 60, "the killed consumer's messages to come back", 0.1)
    recorder.close()

    delays = [
        (checker.micros(message.dequeued_at) - held[message.id].end) / 1e6 for message in came_back.values()
    ]
    assert all(delay >= 0 for delay in delays), f"redelivered before the lease ended: {delays}"
    assert {message.read_ct for message in came_back.values()} == {2}
    verdict = harness.verdict_of(workers, schema, queue.id)
    figures.update(
        messages=verdict.enqueued,
        faults="kill -9 of a consumer holding 10 leases",
        lease_seconds=LOCK_SECONDS,
        returned_after_lease_end_seconds_max=round(max(delays), 2),
        **verdict.figures(),
    )
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == 2 * HELD

"""Scenario 10 - client clock skew: consumers under Debian's faketime, 10 minutes ahead and behind.

Leases are decided by the database clock, so a consumer whose clock runs 10 minutes ahead never
takes a message early, and one 10 minutes behind still gets visible messages. Lease overlap is
judged on database times, so it would show any early redelivery.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness

SKEW_SECONDS = 600
pytestmark = pytest.mark.skipif(
    shutil.which("faketime") is None, reason="needs Debian's faketime (apt-get install -y faketime)"
)


def _skewed(seconds: int) -> list[str]:
    return ["faketime", "-f", f"{seconds:+d}s"]


def _skewed_leases(workers: harness.Workers) -> int:
    leases = workers.checker().leases.values()
    return sum(1 for per_message in leases for lease in per_message if lease.consumer != "holder")


def _clock_offsets(workers: harness.Workers, started: float) -> dict[str, float]:
    """Return each consumer's clock offset as it reported it (seconds, rounded to a minute).

    The skews are whole multiples of ten minutes; a minute absorbs a slow start on a loaded machine.
    """
    return {
        note["p"]: round((note["clock"] - started) / 60) * 60
        for note in workers.checker().notes
        if "clock" in note
    }


def test_skewed_consumers_never_take_a_leased_message(
    admin: pgqrs.PgqrsAdmin, workers: harness.Workers, figures: dict[str, Any]
) -> None:
    queue = admin.create_queue("skew")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    harness.prefill(producer, recorder, 20, "held")
    holder = pgqrs.Consumer(admin.pool, queue, admin.config)
    taken = holder.dequeue_batch(20, lock_time=30)
    recorder.leased("holder", taken)
    assert len(taken) == 20

    started = time.time()
    workers.start("consume", "ahead", prefix=_skewed(SKEW_SECONDS), queue="skew", lock_time=30)
    workers.start("consume", "behind", prefix=_skewed(-SKEW_SECONDS), queue="skew", lock_time=30)
    workers.wait_ready()
    time.sleep(3)  # both poll all along: neither may take a held message
    assert _skewed_leases(workers) == 0, "a skewed consumer took a message still leased"

    harness.prefill(producer, recorder, 20, "fresh")  # visible now: the consumer behind gets them too
    harness.wait_until(lambda: _skewed_leases(workers) == 20, 30, "the fresh messages to be taken")
    for message in taken:
        recorder.acked("holder", "delete", message.id, message.read_ct, holder.delete(message.id))
    recorder.close()
    workers.stop()
    offsets = _clock_offsets(workers, started)
    verdict = workers.checker().verdict()
    figures.update(
        messages=40,
        faults=f"consumer clocks {offsets} s off",
        held_messages_taken_by_skewed_consumers=0,
        **verdict.figures(),
    )
    assert offsets == {"ahead": SKEW_SECONDS, "behind": -SKEW_SECONDS}
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == 40


def test_churn_with_skewed_clocks(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("skew-churn")
    started = time.time()
    skews = [SKEW_SECONDS, -SKEW_SECONDS, 0, SKEW_SECONDS, -SKEW_SECONDS]
    for index, skew in enumerate(skews):
        workers.start(
            "consume",
            f"consumer-{index}{skew:+d}s",
            prefix=_skewed(skew) if skew else None,
            queue="skew-churn",
            batch_size=[1, 5, 3, 2, 10][index],
            lock_time=1,
            slow_fraction=0.05,
            slow_seconds=1.3,  # outlive the lease now and then: redeliveries cross skewed consumers
            ack="mixed",
            seed=index,
            config={"max_read_count": 0},
        )
    workers.start(
        "produce", "producer", queue="skew-churn", count=scale.skew_messages, max_batch=10, pause_seconds=0.01
    )
    elapsed = harness.drain(workers, schema, queue.id, ["producer"], timeout=300)
    verdict = harness.verdict_of(workers, schema, queue.id)
    offsets = _clock_offsets(workers, started)
    figures.update(
        messages=verdict.enqueued,
        faults=f"{len(skews)} consumers, clocks off by {sorted(set(offsets.values()))} s",
        seconds_to_drain=round(elapsed, 1),
        **verdict.figures(),
    )
    assert sorted(offsets.values()) == sorted(skews)
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued == scale.skew_messages
    assert verdict.redeliveries > 0, "no lease ever expired: the run did not test redelivery"

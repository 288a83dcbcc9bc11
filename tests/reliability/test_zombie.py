"""Scenario 3 - zombie: a consumer frozen (SIGSTOP) past its lease wakes up (SIGCONT) and acts.

Meanwhile another consumer took the message. The zombie's extend, delete and archive must all
return False and change nothing; the message is archived exactly once, by the new holder.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness

LOCK_SECONDS = 2
MESSAGES = 3


@pytest.mark.parametrize("wake", ["while_the_new_holder_works", "after_the_new_holder_archived"])
def test_zombie_acknowledgements_return_false(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    schema: str,
    tmp_path: Any,
    wake: str,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("zombie")
    recorder = workers.recorder("parent")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder.enqueued(producer.batch_enqueue([{"key": f"m{index}"} for index in range(MESSAGES)]))
    go_file = tmp_path / "go"
    workers.start(
        "hold", "zombie", queue="zombie", batch_size=MESSAGES, lock_time=LOCK_SECONDS, go_file=str(go_file)
    )
    workers.wait_ready("zombie")
    workers.signal("zombie", signal.SIGSTOP)

    holder = pgqrs.Consumer(admin.pool, queue, admin.config)
    taken: list[pgqrs.QueueMessage] = []

    def take() -> bool:
        taken.extend(holder.dequeue_batch(MESSAGES, lock_time=60))
        return len(taken) == MESSAGES

    harness.wait_until(take, 30, "the frozen consumer's messages to come back", 0.1)
    recorder.leased("holder", taken)
    assert {message.read_ct for message in taken} == {2}
    if wake == "after_the_new_holder_archived":
        _archive_all(holder, taken, recorder)

    go_file.touch()
    workers.signal("zombie", signal.SIGCONT)
    assert workers.wait("zombie", 60) == 0, workers.log("zombie")

    if wake == "while_the_new_holder_works":
        # The zombie changed nothing: the lease is still the holder's, untouched.
        for message in taken:
            current = admin.messages.get(message.id)
            assert (current.worker_id, current.vt) == (holder.worker_id, message.vt)
        _archive_all(holder, taken, recorder)
    recorder.close()

    events = workers.checker()
    zombie_results = [ack["ok"] for acks in events.acks.values() for ack in acks if ack["c"] == "zombie"]
    assert zombie_results == [False] * (2 * MESSAGES)
    assert not events.extensions, "the zombie's extend_visibility must return False"
    archive = admin.archive.filter_by_fk(queue.id)
    assert sorted(row.original_msg_id for row in archive) == sorted(message.id for message in taken)
    verdict = harness.verdict_of(workers, schema, queue.id)
    figures.update(
        messages=MESSAGES,
        faults=f"SIGSTOP past a {LOCK_SECONDS}s lease, SIGCONT {wake.replace('_', ' ')}",
        zombie_calls_returning_false=len(zombie_results) + MESSAGES,
        **verdict.figures(),
    )
    assert verdict.ok, str(verdict)


def _archive_all(holder: pgqrs.Consumer, taken: list[pgqrs.QueueMessage], recorder: Any) -> None:
    for message in taken:
        assert holder.archive(message.id)
        recorder.acked("holder", "archive", message.id, message.read_ct, True)

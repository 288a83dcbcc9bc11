"""Scenario 4 - backend killed: pg_terminate_backend during a call, and at random under load.

A call whose server backend is terminated raises `OutcomeUnknown` (connection_lost), no
message is left leased to nobody, nothing is written twice, and the next call on the same
admin works. Under load, consumers and producers carry on through repeated kills and the
checker finds nothing lost or duplicated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import harness

# The call under test, and a fragment of its SQL (to find its blocked backend).
CALLS: dict[str, str] = {
    "dequeue": "pgqrs_dequeue(",
    "delete": "DELETE FROM",
    "archive": "INSERT INTO",
    "extend_visibility": "greatest(vt",
    "enqueue": "unnest(",
}


@pytest.mark.parametrize("call", list(CALLS))
def test_backend_terminated_during_a_call(
    admin: pgqrs.PgqrsAdmin, direct_dsn: str, schema: str, call: str, figures: dict[str, Any]
) -> None:
    queue = admin.create_queue("killed")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    producer.batch_enqueue([{"key": f"m{index}"} for index in range(3)])
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
    held = consumer.dequeue(lock_time=60) if call != "dequeue" else None
    consumer.register()
    operation = _operation(call, consumer, producer, held)

    with support.connect(direct_dsn) as locker, locker.transaction():
        # Hold the table so the call blocks inside its statement, then kill its backend there.
        locker.execute(f'LOCK TABLE "{schema}".pgqrs_messages IN ACCESS EXCLUSIVE MODE')
        running = harness.CallInThread(operation)
        pids: list[int] = []

        def blocked() -> bool:
            pid = harness.blocked_backend(direct_dsn, schema, CALLS[call])
            pids.extend([pid] if pid else [])
            return bool(pids)

        harness.wait_until(blocked, 30, f"{call} to block on the lock")
        assert harness.terminate(direct_dsn, pids) == 1
        with pytest.raises(pgqrs.DatabaseError) as raised:
            running.result(30)
    # The connection went during the statement: the client cannot know whether it committed.
    assert isinstance(raised.value, pgqrs.OutcomeUnknown), raised.value
    assert raised.value.connection_lost, raised.value

    # Nothing happened: no lease to nobody, the held lease is intact, nothing written.
    rows = admin.messages.filter_by_fk(queue.id)
    assert len(rows) == 3
    assert all(
        row.read_ct == 0 and row.worker_id is None for row in rows if held is None or row.id != held.id
    )
    if held is not None:
        current = admin.messages.get(held.id)
        assert (current.worker_id, current.read_ct, current.vt) == (consumer.worker_id, 1, held.vt)
    assert admin.archive.count_by_fk(queue.id) == 0

    # The next call on the same admin works.
    started = time.monotonic()
    operation()
    figures.update(
        call=call,
        faults="pg_terminate_backend while the statement waits on a lock",
        error=f"{type(raised.value).__name__}(sqlstate={raised.value.sqlstate}, connection_lost=True)",
        next_call_seconds=round(time.monotonic() - started, 3),
    )


def _operation(
    call: str, consumer: pgqrs.Consumer, producer: pgqrs.Producer, held: pgqrs.QueueMessage | None
) -> Callable[[], Any]:
    if call == "dequeue":
        return lambda: consumer.dequeue_batch(3, lock_time=60)
    if call == "enqueue":
        return lambda: producer.batch_enqueue([{"key": "new-1"}, {"key": "new-2"}])
    assert held is not None
    if call == "extend_visibility":
        return lambda: consumer.extend_visibility(held.id, 0)
    method = consumer.delete if call == "delete" else consumer.archive
    return lambda: method(held.id)


def test_random_backend_kills_under_load(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    direct_dsn: str,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("kills")
    for index in range(4):
        workers.start(
            "consume",
            f"consumer-{index}",
            queue="kills",
            batch_size=[1, 10, 5, 20][index],
            lock_time=2,
            ack=["archive", "delete", "mixed", "archive"][index],
            batch_ack=index % 2 == 1,
            seed=index,
            config={"max_read_count": 0},
        )
    workers.start(
        "produce", "producer", queue="kills", count=scale.kill_messages, max_batch=20, pause_seconds=0.02
    )
    workers.wait_ready()

    # Kill while messages are produced and consumed: until the producer is done and the queue empty.
    kills = rounds = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (
        workers.processes["producer"].poll() is None or harness.count_messages(direct_dsn, schema, queue.id)
    ):
        kills += harness.terminate(direct_dsn, harness.backend_pids(direct_dsn, schema)[:3])
        rounds += 1
        time.sleep(0.1)
    elapsed = harness.drain(workers, schema, queue.id, ["producer"], timeout=300)
    checked = workers.checker()
    errors = [note for note in checked.notes if "error" in note]
    verdict = harness.verdict_of(workers, schema, queue.id)
    figures.update(
        messages=verdict.enqueued,
        faults=f"{kills} backends terminated in {rounds} rounds",
        client_errors=len(errors),
        seconds_to_drain_after_kills=round(elapsed, 1),
        **verdict.figures(),
    )
    assert kills > 0
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued >= scale.kill_messages
    assert all(code == 0 for code in workers.exit_codes().values()), workers.exit_codes()

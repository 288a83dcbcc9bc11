"""Scenario 15 - runtime killed: `kill -9` of a worker-runtime process in the middle of its batch.

Three runtime processes (async, blocking, async) work one queue, each with 8 handlers at once.
While the first one has handlers running, it is killed with SIGKILL. Nothing is lost: the
messages it held (running, or finished and waiting to be settled) come back once their lease
ends - the lease the dead process last renewed, read from the table right after the kill - and
not before; the other processes then handle and archive them. No two invocations of a message
ever overlap.
"""

from __future__ import annotations

import signal
from typing import Any

from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import checker, harness

LOCK_SECONDS = 2.0
CONCURRENCY = 8
RUNTIMES = ["async", "sync", "async"]


def test_killed_runtime_messages_come_back_after_their_lease(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("jobs")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    harness.prefill(producer, recorder, scale.runtime_messages, "m")
    names = [f"runtime-{index}" for index in range(len(RUNTIMES))]
    for index, (name, runtime) in enumerate(zip(names, RUNTIMES, strict=True)):
        workers.start_app(
            name,
            "jobs",
            runtime,
            config={"poll_interval": 0.1},
            concurrency=CONCURRENCY,
            lock_time=LOCK_SECONDS,
            work_seconds=[0.05, 0.4],
            seed=index,
        )
    victim = names[0]
    victim_worker = harness.registered_worker(workers, victim, queue.id)
    for name in names[1:]:
        harness.registered_worker(workers, name, queue.id)

    # Mid-batch: a good part of the queue done, and the victim busy with several messages.
    harness.wait_until(
        lambda: (
            admin.archive.count_by_fk(queue.id) >= scale.runtime_messages // 5
            and len(harness.running_invocations(workers, victim)) >= CONCURRENCY // 2
        ),
        120,
        "the victim to be busy, mid-run",
        0.02,
    )
    workers.signal(victim, signal.SIGKILL)
    assert workers.wait(victim, 30) == -signal.SIGKILL  # its end is recorded: its runs end then
    running_at_kill = [
        run for runs in workers.checker().invocations().values() for run in runs if run.how == "died"
    ]
    with support.connect(workers.dsn) as connection:
        killed_at = connection.execute("SELECT now()").fetchone()[0]
        rows = connection.execute(
            f'SELECT id, vt, read_ct FROM "{schema}".pgqrs_messages WHERE worker_id = %s', (victim_worker,)
        ).fetchall()
    held = {int(row[0]): (checker.micros(row[1]), int(row[2])) for row in rows}
    # Renewed to end one lease after the last renewal, which came before the kill.
    lease_left = [(end - checker.micros(killed_at)) / 1e6 for end, _ in held.values()]

    harness.wait_until(
        lambda: harness.count_messages(workers.dsn, schema, queue.id) == 0, 300, "the queue to empty", 0.2
    )
    exit_codes = harness.stop_apps(workers, names[1:])
    recorder.close()
    events, verdict = harness.runtime_verdict(workers, schema, queue.id)

    # Each held message came back to another process, not before its lease ended, one delivery later.
    comebacks: list[float] = []
    after_kill: list[float] = []
    for message_id, (lease_end, read_ct) in held.items():
        later = [
            lease
            for lease in events.leases[message_id]
            if lease.consumer != victim and lease.read_ct > read_ct
        ]
        assert later, f"message {message_id} held by the killed process was never delivered again"
        first = min(later, key=lambda lease: lease.start)
        assert first.read_ct == read_ct + 1
        comebacks.append((first.start - lease_end) / 1e6)
        after_kill.append((first.start - checker.micros(killed_at)) / 1e6)
    invocations = events.invocations()
    returned = {
        message_id: [run for run in runs if run.how == "returned"] for message_id, runs in invocations.items()
    }
    twice = sorted(message_id for message_id, runs in returned.items() if len(runs) > 1)
    figures.update(
        messages=verdict.enqueued,
        faults=f"kill -9 of 1 of 3 runtime processes, {len(running_at_kill)} handlers running",
        held_at_kill=len(held),
        running_at_kill=len(running_at_kill),
        handled_twice=len(twice),
        lease_seconds=LOCK_SECONDS,
        lease_left_at_kill_seconds=[round(min(lease_left), 2), round(max(lease_left), 2)],
        redelivered_after_lease_end_seconds=[round(min(comebacks), 2), round(max(comebacks), 2)],
        redelivered_after_kill_seconds=[round(min(after_kill), 2), round(max(after_kill), 2)],
        **verdict.figures(),
    )
    assert exit_codes == dict.fromkeys(names[1:], 0), {name: workers.log(name) for name in names}
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == scale.runtime_messages
    assert running_at_kill and {run.message_id for run in running_at_kill} <= set(held)
    assert max(lease_left) < LOCK_SECONDS
    assert min(comebacks) >= 0, f"redelivered before the lease ended: {comebacks}"
    # Handled twice only where the victim's result had not been settled when it died.
    assert set(twice) <= set(held)
    assert all(returned.get(message_id) for message_id in events.enqueued)

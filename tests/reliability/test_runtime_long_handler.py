"""Scenario 17 - long handlers: a handler running 3x its lock_time is not run a second time.

Three runtime processes (async, blocking, async) poll one queue every 50 ms with a 1 s lease.
Among quick messages, a few take 3 s each: three times the lease. The runtime renews the leases
of what its handlers hold, so no other process may take them: every message, slow ones included,
is run exactly once and archived with read_ct 1.
"""

from __future__ import annotations

from typing import Any

from pgqrs import sync as pgqrs
from tests.reliability import checker, harness

LOCK_SECONDS = 1.0
SLOW_SECONDS = 3 * LOCK_SECONDS
RUNTIMES = ["async", "sync", "async"]


def test_a_handler_running_three_lock_times_runs_once(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("jobs")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    quick = scale.runtime_messages // 5
    slow = [f"slow-{index}" for index in range(scale.runtime_rounds)]
    # The slow ones spread among the quick ones, so they start at different moments.
    keys = [f"quick-{index}" for index in range(quick)]
    for index, key in enumerate(slow):
        keys.insert(index * len(keys) // len(slow), key)
    recorder.enqueued(producer.batch_enqueue([{"key": key} for key in keys]))
    recorder.close()
    names = [f"runtime-{index}" for index in range(len(RUNTIMES))]
    for index, (name, runtime) in enumerate(zip(names, RUNTIMES, strict=True)):
        workers.start_app(
            name,
            "jobs",
            runtime,
            config={"poll_interval": 0.05},
            concurrency=2,
            lock_time=LOCK_SECONDS,
            work_seconds=[0.01, 0.05],
            slow=dict.fromkeys(slow, SLOW_SECONDS),
            seed=index,
        )
    harness.wait_until(
        lambda: harness.count_messages(workers.dsn, schema, queue.id) == 0, 120, "the queue to empty", 0.2
    )
    exit_codes = harness.stop_apps(workers, names)
    events, verdict = harness.runtime_verdict(workers, schema, queue.id)

    runs = events.invocations()
    by_key = {events.enqueued[message_id]: message_runs for message_id, message_runs in runs.items()}
    final = {
        events.enqueued[message_id]: rows
        for message_id, rows in checker.final_state(workers.dsn, schema, queue.id).archived_by.items()
    }
    slow_runs = [run for key in slow for run in by_key[key]]
    figures.update(
        messages=verdict.enqueued,
        faults=f"{len(slow)} handlers running {SLOW_SECONDS:g} s on a {LOCK_SECONDS:g} s lease, 3 processes "
        "polling every 50 ms",
        slow_handler_seconds=[
            round(min(run.end - run.start for run in slow_runs if run.end), 2),
            round(max(run.end - run.start for run in slow_runs if run.end), 2),
        ],
        slow_runs=len(slow_runs),
        **verdict.figures(),
    )
    assert exit_codes == dict.fromkeys(names, 0), {name: workers.log(name) for name in names}
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == len(keys) and verdict.redeliveries == 0
    for key in slow:
        assert [run.how for run in by_key[key]] == ["returned"], by_key[key]
        assert [read_ct for _, read_ct in final[key]] == [1]
    assert all(run.end is not None and run.end - run.start >= SLOW_SECONDS for run in slow_runs)
    assert verdict.handler_runs == len(keys)

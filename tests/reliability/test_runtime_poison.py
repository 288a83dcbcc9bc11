"""Scenario 20 - runtime poison message: a message whose handler kills its process, every time.

Its handler sends SIGKILL to its own process. A supervisor (the test) starts the runtime process
again after each death, alternating the async and blocking runtimes. The handler allows 3
attempts (`RetryPolicy(max_attempts=3)`), so after 3 deaths the next dequeue moves the message
to the archive as a dead letter, with its reason; the 20 other messages are handled and archived
exactly once.

One handler at a time (concurrency 1): a process that dies takes down every message it runs,
and those that run beside the poison message each time would use up their attempts too.
"""

from __future__ import annotations

import signal
from typing import Any

from pgqrs import sync as pgqrs
from tests.reliability import harness

GOOD = 20
MAX_ATTEMPTS = 3
LOCK_SECONDS = 1.0


def test_a_message_killing_its_runtime_is_dead_lettered_after_max_attempts(
    admin: pgqrs.PgqrsAdmin, workers: harness.Workers, schema: str, figures: dict[str, Any]
) -> None:
    queue = admin.create_queue("jobs")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("supervisor")
    keys = [f"good-{index}" for index in range(GOOD)]
    keys.insert(GOOD // 2, "poison")
    sent = producer.batch_enqueue([{"key": key} for key in keys])
    recorder.enqueued(sent)
    poison_id = next(message.id for message in sent if message.payload["key"] == "poison")

    deaths = 0
    started = []
    for attempt in range(3 * MAX_ATTEMPTS):
        name = f"runtime-{attempt}"
        started.append(name)
        process = workers.start_app(
            name,
            "jobs",
            ["async", "sync"][attempt % 2],
            config={"poll_interval": 0.1},
            concurrency=1,
            lock_time=LOCK_SECONDS,
            max_attempts=MAX_ATTEMPTS,
            work_seconds=[0.0, 0.02],
            poison="poison",
        )
        harness.wait_until(
            lambda process=process: (
                process.poll() is not None or harness.count_messages(workers.dsn, schema, queue.id) == 0
            ),
            120,
            "the runtime to die or the queue to empty",
            0.05,
        )
        if process.poll() is None:
            break  # the queue is empty: the poison message is buried
        assert process.returncode == -signal.SIGKILL, workers.log(name)
        workers.app_exited(name)
        deaths += 1
    recorder.close()
    exit_codes = harness.stop_apps(workers, [started[-1]])
    metrics = admin.queue_metrics("jobs")
    archive = admin.archive.filter_by_fk(queue.id)
    dead = [row for row in archive if row.dead_letter_reason is not None]
    events, verdict = harness.runtime_verdict(workers, schema, queue.id)
    poison_runs = events.invocations()[poison_id]
    figures.update(
        messages=len(keys),
        faults=f"the handler of 1 message kills its process ({deaths} deaths, runtime restarted each time)",
        max_attempts=MAX_ATTEMPTS,
        dead_letter_reason=dead[0].dead_letter_reason if dead else None,
        dead_letter_read_ct=dead[0].read_ct if dead else None,
        **verdict.figures(),
    )
    assert deaths == MAX_ATTEMPTS
    assert exit_codes == {started[-1]: 0}, workers.log(started[-1])
    assert [run.how for run in poison_runs] == ["died"] * MAX_ATTEMPTS
    assert [run.read_ct for run in poison_runs] == list(range(1, MAX_ATTEMPTS + 1))
    assert [row.original_msg_id for row in dead] == [poison_id]
    assert dead[0].read_ct == MAX_ATTEMPTS
    assert f"max_read_count = {MAX_ATTEMPTS}" in (dead[0].dead_letter_reason or "")
    assert (metrics.dead_letter_count, metrics.total_messages) == (1, 0)
    assert verdict.ok, str(verdict)
    assert (verdict.acknowledged, verdict.dead_lettered) == (GOOD, 1)

"""Scenario 18 - listener killed: wake-ups resume after the LISTEN connection is terminated.

Two runtime processes (async and blocking) poll only every 60 s, so within the test's patience
(20 s) only a wake-up (an enqueue's NOTIFY) can start a handler. In each round a message is
enqueued while they listen and is handled at once; then both listening connections are
terminated with pg_terminate_backend and another message is enqueued straight away, its
notification possibly sent to nobody: the listeners reconnect, look at their queues on
reconnecting, and that message is handled too, well before the next poll; the next round's
message proves the new connections receive wake-ups.
"""

from __future__ import annotations

import time
from typing import Any

from pgqrs import _notify
from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import harness

POLL_SECONDS = 60.0
PATIENCE = 20.0  # far below the poll interval: only a wake-up is that quick
LISTENING = "SELECT pid FROM pg_stat_activity WHERE query = %s AND application_name = %s"


def test_wakeups_resume_after_the_listener_is_terminated(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    dsn: str,
    direct_dsn: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("jobs")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    config: dict[str, Any] = {"poll_interval": POLL_SECONDS}
    if harness.is_pooled(dsn):
        config["listen_dsn"] = direct_dsn  # a transaction pooler cannot deliver notifications
    names = ["runtime-async", "runtime-sync"]
    for name in names:
        workers.start_app(
            name, "jobs", name.removeprefix("runtime-"), config=config, concurrency=2, lock_time=30
        )
        harness.registered_worker(workers, name, queue.id)

    def listeners() -> dict[str, int]:
        found = {}
        with support.connect(direct_dsn) as connection:
            for name in names:
                row = connection.execute(
                    LISTENING, (f'LISTEN "{_notify.CHANNEL}"', workers.application_name(name))
                ).fetchone()
                if row:
                    found[name] = int(row[0])
        return found

    def handled(key: str, sent: float) -> float:
        """Wait until the message `key` was handled; return the seconds from enqueue to start."""
        starts: list[float] = []

        def started() -> bool:
            events = workers.checker()
            ids = [message_id for message_id, seen in events.enqueued.items() if seen == key]
            starts.extend(run.start for message_id in ids for run in events.invocations().get(message_id, []))
            return bool(starts)

        harness.wait_until(started, PATIENCE, f"message {key} to be handled (a wake-up)", 0.02)
        return min(starts) - sent

    def enqueue(key: str) -> float:
        sent = time.time()
        recorder.enqueued([producer.enqueue({"key": key})])
        # The wake-up an enqueue sends (producers on main do not send it yet: see pgqrs._notify).
        with support.connect(dsn) as connection:
            connection.execute(
                "SELECT pg_notify(%s, %s)", (_notify.CHANNEL, _notify.wake_payload(workers.schema, queue.id))
            )
        return sent

    harness.wait_until(lambda: len(listeners()) == len(names), 60, "both runtimes to LISTEN")
    time.sleep(0.5)  # their first look at the (empty) queue is over
    listening_latency: list[float] = []
    after_kill_latency: list[float] = []
    reconnect_seconds: list[float] = []
    for round_number in range(scale.listener_kills):
        listening_latency.append(handled(f"listening-{round_number}", enqueue(f"listening-{round_number}")))
        before = listeners()
        assert harness.terminate(direct_dsn, list(before.values())) == len(names)
        killed_at = time.monotonic()
        key = f"after-kill-{round_number}"
        after_kill_latency.append(handled(key, enqueue(key)))
        harness.wait_until(
            lambda before=before: (
                len(now := listeners()) == len(names) and not set(now.values()) & set(before.values())
            ),
            PATIENCE,
            "both runtimes to LISTEN again",
            0.02,
        )
        reconnect_seconds.append(time.monotonic() - killed_at)
    last = f"listening-{scale.listener_kills}"
    listening_latency.append(handled(last, enqueue(last)))
    recorder.close()
    exit_codes = harness.stop_apps(workers, names)
    _, verdict = harness.runtime_verdict(workers, workers.schema, queue.id)
    figures.update(
        messages=verdict.enqueued,
        faults=f"{scale.listener_kills} rounds: both listening connections terminated (2 processes)",
        poll_interval_seconds=POLL_SECONDS,
        wakeup_seconds=[round(min(listening_latency), 3), round(max(listening_latency), 3)],
        handled_after_kill_seconds=[round(min(after_kill_latency), 3), round(max(after_kill_latency), 3)],
        listening_again_after_seconds=[round(min(reconnect_seconds), 2), round(max(reconnect_seconds), 2)],
        **verdict.figures(),
    )
    assert exit_codes == dict.fromkeys(names, 0), {name: workers.log(name) for name in names}
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued == 2 * scale.listener_kills + 1
    assert verdict.handler_runs == verdict.enqueued

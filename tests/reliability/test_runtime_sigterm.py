"""Scenario 16 - runtime stopped: SIGTERM (a graceful stop) and a second SIGTERM (at once) during work.

A runtime process (async or blocking) with 4 handlers at once leases the first 4 messages: 3
take 2 s, one would take an hour (stuck). It is sent SIGTERM while all 4 run, and two other
runtime processes start working the rest of the queue.

- One SIGTERM: the process fetches nothing more; the 3 handlers that finish within the
  shutdown timeout (8 s) are archived by it, each run exactly once; the stuck one is given
  up at the timeout and its message comes back to the others, who run it once, never while
  the first run still goes on.
- Two SIGTERMs: the process gives up at once; every message it held comes back and is run
  once more elsewhere, again never at the same time as its first run.

A given-up async handler is cancelled and its message given back untried (read_ct restored);
a blocking one cannot be stopped, so its message comes back when its lease ends (read_ct + 1),
once the process has exited.

Never both: a message whose handler finished in the grace period is archived by the stopped
process and never run again; a message whose handler was given up is never archived by it.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import checker, harness

LOCK_SECONDS = 2.0
CONCURRENCY = 4
LONG_SECONDS = 2.0
STUCK_SECONDS = 3600.0
SHUTDOWN_TIMEOUT = 8.0
STUCK = "m-0"
LONG = ["m-1", "m-2", "m-3"]


@pytest.mark.parametrize("signals", [1, 2], ids=["graceful", "immediate"])
@pytest.mark.parametrize("runtime", ["async", "sync"])
def test_sigterm_during_work_finishes_or_gives_back_never_both(
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    schema: str,
    scale: harness.Scale,
    runtime: str,
    signals: int,
    figures: dict[str, Any],
) -> None:
    queue = admin.create_queue("jobs")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    recorder = workers.recorder("parent")
    total = max(40, scale.runtime_messages // 3)
    harness.prefill(producer, recorder, total, "m")
    recorder.close()
    workers.start_app(
        "stopped",
        "jobs",
        runtime,
        config={"poll_interval": 0.1},
        concurrency=CONCURRENCY,
        lock_time=LOCK_SECONDS,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        work_seconds=[0.02, 0.1],
        slow={STUCK: STUCK_SECONDS, **dict.fromkeys(LONG, LONG_SECONDS)},
    )
    stopped_worker = harness.registered_worker(workers, "stopped", queue.id)
    harness.wait_until(
        lambda: len(harness.running_invocations(workers, "stopped")) == CONCURRENCY,
        60,
        "the first 4 messages to be running",
        0.01,
    )
    signalled = time.monotonic()
    for number in range(1, signals + 1):
        workers.signal("stopped", signal.SIGTERM)
        # Signals sent together may arrive as one: send the next once this one was taken.
        harness.wait_until(
            lambda number=number: any(note.get("signal") == number for note in workers.checker().notes),
            30,
            f"the stopped process to take signal {number}",
            0.01,
        )
    others = ["other-async", "other-sync"]
    for index, name in enumerate(others):
        workers.start_app(
            name,
            "jobs",
            name.removeprefix("other-"),
            config={"poll_interval": 0.1},
            concurrency=CONCURRENCY,
            lock_time=LOCK_SECONDS,
            work_seconds=[0.02, 0.1],
            seed=index,
        )
    exit_code = workers.wait("stopped", SHUTDOWN_TIMEOUT + 30)
    exited_after = time.monotonic() - signalled
    harness.wait_until(
        lambda: harness.count_messages(workers.dsn, schema, queue.id) == 0, 120, "the queue to empty", 0.2
    )
    exit_codes = harness.stop_apps(workers, others)
    events, verdict = harness.runtime_verdict(workers, schema, queue.id)

    runs = events.invocations()
    keys = {message_id: key for message_id, key in events.enqueued.items()}
    stopped_runs = {
        keys[message_id]: run
        for message_id, message_runs in runs.items()
        for run in message_runs
        if run.process == "stopped"
    }
    archived_by = checker.final_state(workers.dsn, schema, queue.id).archived_by
    archived_by_key = {keys[message_id]: rows for message_id, rows in archived_by.items()}
    # What `run` returned in the stopped process (figures only: `pgqrs worker run` may not say).
    stats = next((note["stats"] for note in events.notes if "stats" in note and note["p"] == "stopped"), {})
    finished = [key for key in LONG if stopped_runs[key].how == "returned"]
    given_up = sorted(key for key, run in stopped_runs.items() if run.how != "returned")
    figures.update(
        runtime=runtime,
        messages=verdict.enqueued,
        faults=f"{signals} SIGTERM with 4 handlers running (3 of 2 s, 1 stuck), shutdown timeout 8 s",
        finished_in_grace_period=len(finished),
        given_up=len(given_up),
        exited_after_signal_seconds=round(exited_after, 1),
        stopped_process_stats={key: stats.get(key) for key in ("handled", "succeeded", "released")},
        **verdict.figures(),
    )
    assert exit_code == 0, workers.log("stopped")
    assert exit_codes == dict.fromkeys(others, 0), {name: workers.log(name) for name in others}
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == total and verdict.overlapping_runs == 0
    # It fetched nothing after the signal: it ran the 4 messages it had, and only those.
    assert sorted(stopped_runs) == sorted([STUCK, *LONG])
    for message_id, message_runs in runs.items():
        key = keys[message_id]
        returned = [run for run in message_runs if run.how == "returned"]
        if key in finished:
            # Finished in the grace period: archived by the stopped process, never run again.
            assert len(message_runs) == 1, message_runs
            assert archived_by_key[key] == [(stopped_worker, 1)]
        else:
            # Given up (or never started there): run to the end exactly once, by another process.
            assert len(returned) == 1 and returned[0].process != "stopped", message_runs
            assert archived_by_key[key][0][0] != stopped_worker
    # Async: the cancelled handler's message was given back untried (read_ct restored). Blocking:
    # a thread cannot be stopped, so its message came back only when its lease ended.
    ids = {key: message_id for message_id, key in keys.items()}
    for key in given_up:
        taken_over = [lease for lease in events.leases[ids[key]] if lease.consumer != "stopped"]
        assert min(taken_over, key=lambda lease: lease.start).read_ct == (1 if runtime == "async" else 2)
    if signals == 1:
        assert finished == LONG and given_up == [STUCK]
    else:
        assert finished == [] and given_up == sorted([STUCK, *LONG])

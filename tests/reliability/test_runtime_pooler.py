"""Scenario 19 - runtime behind PgBouncer in transaction mode: polling, or wake-ups from a direct LISTEN.

PgBouncer (ci/pgbouncer.ini: transaction mode, 2 server connections, round robin) accepts a
LISTEN but never delivers its notifications, and hands each transaction to any server
connection. Two runtime processes (async and blocking) work through it with
``pooler="transaction"``:

- without ``listen_dsn`` they only poll (every 0.2 s) and open no LISTEN anywhere; a producer
  enqueues in bursts through PgBouncer and every message is handled once;
- with ``listen_dsn`` naming the server itself (poll every 60 s), the wake-ups come through that
  direct connection while all the work goes through PgBouncer.

Runs where PgBouncer answers: PGQRS_TEST_DSN itself when it is a pooler, else 127.0.0.1:6432
(`bash ci/pgbouncer-start.sh`); skipped without one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import conninfo

from pgqrs import _notify
from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import harness

LISTENING = "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND application_name = ANY(%s)"
NAMES = ["runtime-async", "runtime-sync"]
BURSTS = 10


@pytest.fixture
def pooled_dsn(dsn: str) -> str:
    """Return a DSN through PgBouncer in transaction mode, or skip."""
    if harness.is_pooled(dsn):
        return dsn
    candidate = conninfo.make_conninfo(dsn, host="127.0.0.1", port="6432")
    try:
        with psycopg.connect(candidate, connect_timeout=3, autocommit=True, prepare_threshold=None) as probe:
            probe.execute("SELECT 1")
    except psycopg.Error:
        pytest.skip("needs PgBouncer on 127.0.0.1:6432 (bash ci/pgbouncer-start.sh)")
    return candidate


@pytest.fixture
def pooled_admin(pooled_dsn: str, schema: str) -> Iterator[pgqrs.PgqrsAdmin]:
    """Return an admin (the producer's side) working through PgBouncer."""
    config = pgqrs.Config.from_dsn_with_schema(pooled_dsn, schema).replace(
        pooler="transaction", connection_timeout_seconds=30, max_connections=2
    )
    with pgqrs.PgqrsAdmin.connect(config) as admin:
        admin.install()
        yield admin


def _start(workers: harness.Workers, pooled_dsn: str, config: dict[str, Any]) -> None:
    """Start both runtimes, working through PgBouncer."""
    for index, name in enumerate(NAMES):
        workers.start_app(
            name,
            "jobs",
            name.removeprefix("runtime-"),
            dsn=pooled_dsn,
            config={"pooler": "transaction", "connection_timeout_seconds": 30, **config},
            concurrency=4,
            lock_time=30,  # 2 server connections shared with other suites: renewals may queue
            work_seconds=[0.0, 0.02],
            seed=index,
        )


def _listeners(direct_dsn: str, workers: harness.Workers) -> int:
    names = [workers.application_name(name) for name in NAMES]
    with support.connect(direct_dsn) as connection:
        row = connection.execute(LISTENING, (f'LISTEN "{_notify.CHANNEL}"', names)).fetchone()
    return int(row[0]) if row else 0


def _pooler_clients(pooled_dsn: str, workers: harness.Workers) -> int:
    """Return how many of the runtimes' connections PgBouncer serves (its SHOW CLIENTS)."""
    names = {workers.application_name(name) for name in NAMES}
    admin_dsn = conninfo.make_conninfo(pooled_dsn, dbname="pgbouncer")
    with psycopg.connect(admin_dsn, autocommit=True, prepare_threshold=None) as console:
        cursor = console.execute("SHOW CLIENTS")
        column = [description.name for description in cursor.description or []].index("application_name")
        return sum(1 for row in cursor.fetchall() if row[column] in names)


def _handled_after(workers: harness.Workers, sent: dict[str, float]) -> list[float]:
    """Return, per message enqueued at `sent[key]`, the seconds until its handler started."""
    events = workers.checker()
    runs = events.invocations()
    return [
        min(run.start for run in runs[message_id]) - sent[key]
        for message_id, key in events.enqueued.items()
        if key in sent and message_id in runs
    ]


def test_through_pgbouncer_the_runtime_polls(
    pooled_admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    pooled_dsn: str,
    direct_dsn: str,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = pooled_admin.create_queue("jobs")
    producer = pgqrs.Producer(pooled_admin.pool, queue, pooled_admin.config)
    recorder = workers.recorder("producer")
    _start(workers, pooled_dsn, {"poll_interval": 0.2})
    for name in NAMES:
        harness.registered_worker(workers, name, queue.id)
    sent: dict[str, float] = {}
    size = scale.runtime_messages // BURSTS
    for burst in range(BURSTS):
        keys = [f"b{burst}-{index}" for index in range(size)]
        started = time.time()
        recorder.enqueued(producer.batch_enqueue([{"key": key} for key in keys]))
        sent.update(dict.fromkeys(keys, started))
        time.sleep(0.3)
    recorder.close()
    harness.wait_until(
        lambda: harness.count_messages(direct_dsn, schema, queue.id) == 0, 180, "the queue to empty", 0.2
    )
    listening = _listeners(direct_dsn, workers)
    through_pooler = _pooler_clients(pooled_dsn, workers)
    exit_codes = harness.stop_apps(workers, NAMES)
    _, verdict = harness.runtime_verdict(workers, schema, queue.id)
    latency = _handled_after(workers, sent)
    figures.update(
        messages=verdict.enqueued,
        faults=f"2 runtimes and a producer through PgBouncer (transaction mode), {BURSTS} bursts, "
        "poll every 0.2 s",
        first_handled_after_enqueue_seconds=[round(min(latency), 2), round(max(latency), 2)],
        runtime_connections_in_pgbouncer=through_pooler,
        **verdict.figures(),
    )
    assert exit_codes == dict.fromkeys(NAMES, 0), {name: workers.log(name) for name in NAMES}
    assert through_pooler >= len(NAMES) and listening == 0
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued == size * BURSTS
    assert len(latency) == size * BURSTS


def test_through_pgbouncer_wakeups_come_from_a_direct_listen_dsn(
    pooled_admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    pooled_dsn: str,
    direct_dsn: str,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    queue = pooled_admin.create_queue("jobs")
    producer = pgqrs.Producer(pooled_admin.pool, queue, pooled_admin.config)
    recorder = workers.recorder("producer")
    _start(workers, pooled_dsn, {"poll_interval": 60, "listen_dsn": direct_dsn})
    for name in NAMES:
        harness.registered_worker(workers, name, queue.id)
    harness.wait_until(lambda: _listeners(direct_dsn, workers) == len(NAMES), 60, "both runtimes to LISTEN")
    time.sleep(0.5)  # their first look at the (empty) queue is over
    sent: dict[str, float] = {}
    for round_number in range(scale.runtime_rounds):
        key = f"woken-{round_number}"
        sent[key] = time.time()
        recorder.enqueued([producer.enqueue({"key": key})])
        # The wake-up an enqueue sends (producers on main do not send it yet: see pgqrs._notify),
        # through PgBouncer like the enqueue.
        with psycopg.connect(pooled_dsn, autocommit=True, prepare_threshold=None) as connection:
            connection.execute(
                "SELECT pg_notify(%s, %s)", (_notify.CHANNEL, _notify.wake_payload(schema, queue.id))
            )
        harness.wait_until(
            lambda: len(_handled_after(workers, sent)) == len(sent),
            20,  # far below the 60 s poll interval: only a wake-up is that quick
            f"message {key} to be handled (a wake-up)",
            0.02,
        )
    recorder.close()
    through_pooler = _pooler_clients(pooled_dsn, workers)
    exit_codes = harness.stop_apps(workers, NAMES)
    _, verdict = harness.runtime_verdict(workers, schema, queue.id)
    latency = _handled_after(workers, sent)
    figures.update(
        messages=verdict.enqueued,
        runtime_connections_in_pgbouncer=through_pooler,
        faults="2 runtimes working through PgBouncer, listening on the server directly; poll every 60 s",
        wakeup_seconds=[round(min(latency), 3), round(max(latency), 3)],
        **verdict.figures(),
    )
    assert exit_codes == dict.fromkeys(NAMES, 0), {name: workers.log(name) for name in NAMES}
    assert verdict.ok, str(verdict)
    assert through_pooler >= len(NAMES)
    assert verdict.acknowledged == verdict.enqueued == scale.runtime_rounds

"""Scenario 9 - a long transaction elsewhere holds back xmin for a whole run.

The queue stays correct; the figures are dequeue throughput with and without the long
transaction, the dead tuples it leaves behind (VACUUM cannot remove them while it runs), and
what a VACUUM recovers once it ends.
"""

from __future__ import annotations

import time
from typing import Any

from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import checker, harness

CONSUMERS = 4


def _drain_run(
    admin: pgqrs.PgqrsAdmin, workers: harness.Workers, schema: str, name: str, count: int
) -> tuple[checker.Verdict, float]:
    """Prefill a queue, drain it with consumer processes; return the verdict and messages/second."""
    queue = admin.create_queue(name)
    recorder = workers.recorder(f"{name}-producer")
    harness.prefill(pgqrs.Producer(admin.pool, queue, admin.config), recorder, count, name)
    recorder.close()
    for index in range(CONSUMERS):
        workers.start("consume", f"{name}-{index}", queue=name, batch_size=20, lock_time=30, ack="delete")
    workers.wait_ready(*[f"{name}-{index}" for index in range(CONSUMERS)])
    started = time.monotonic()
    harness.wait_until(
        lambda: harness.count_messages(workers.dsn, schema, queue.id) == 0, 600, f"{name} to drain", 0.1
    )
    rate = count / (time.monotonic() - started)
    workers.stop()
    verdict = workers.checker().verdict(checker.final_state(workers.dsn, schema, queue.id))
    return verdict, rate


def _dead_tuples(direct_dsn: str, schema: str, vacuum: bool) -> int:
    with support.connect(direct_dsn) as connection:
        if vacuum:
            connection.execute(f'VACUUM "{schema}".pgqrs_messages')
        row = connection.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = %s AND relname = 'pgqrs_messages'",
            (schema,),
        ).fetchone()
    return int(row[0]) if row else 0


def _recovered(direct_dsn: str, schema: str, dead_during: int) -> tuple[int, int]:
    """VACUUM until the dead tuples go (bounded); return them and how many other sessions hold xmin."""
    deadline = time.monotonic() + 30
    while True:
        dead = _dead_tuples(direct_dsn, schema, vacuum=True)
        if dead < dead_during or time.monotonic() > deadline:
            break
        time.sleep(1)
    with support.connect(direct_dsn) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()"
        ).fetchone()
    return dead, int(row[0]) if row else 0


def test_long_transaction_holding_xmin(
    admin: pgqrs.PgqrsAdmin,
    tmp_path: Any,
    dsn: str,
    direct_dsn: str,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    count = scale.xmin_messages
    baseline_workers = harness.Workers(tmp_path, dsn, schema)
    try:
        baseline, baseline_rate = _drain_run(admin, baseline_workers, schema, "baseline", count)
    finally:
        baseline_workers.kill_all()
    assert baseline.ok, str(baseline)
    _dead_tuples(direct_dsn, schema, vacuum=True)

    held_dir = tmp_path / "held"
    held_dir.mkdir()
    held_workers = harness.Workers(held_dir, dsn, schema)
    with support.connect(direct_dsn) as elsewhere:
        elsewhere.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        elsewhere.execute("SELECT txid_current()")  # holds the xmin horizon until it ends
        try:
            held, held_rate = _drain_run(admin, held_workers, schema, "held", count)
        finally:
            held_workers.kill_all()
        dead_during = _dead_tuples(direct_dsn, schema, vacuum=True)
        elsewhere.execute("ROLLBACK")
    dead_after, other_holders = _recovered(direct_dsn, schema, dead_during)

    figures.update(
        messages=2 * count,
        faults="REPEATABLE READ transaction with an xid open for the whole second run",
        baseline_messages_per_second=round(baseline_rate),
        held_messages_per_second=round(held_rate),
        dead_tuples_vacuum_could_not_remove=dead_during,
        dead_tuples_after_it_ended_and_vacuum=dead_after,
        other_sessions_holding_xmin=other_holders,
        **held.figures(),
    )
    assert held.ok, str(held)
    assert (baseline.acknowledged, held.acknowledged) == (count, count)
    assert dead_during >= count, "the long transaction should keep every deleted row version"
    # The shared server may run someone else's long transaction too: then nobody can recover.
    assert dead_after < dead_during or other_holders, "VACUUM did not recover after the transaction"

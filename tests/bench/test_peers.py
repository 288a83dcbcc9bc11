"""The harness's peer mode: each peer installed in an environment of its own, same workloads, checked.

Needs the package index (a peer is installed from it, once per cache folder: ~10 s each) and a
direct server: asyncpg's prepared statements do not go through a transaction pooler.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from pgqrs import config as config_module
from pgqrs.bench import options, peers, run
from pgqrs.bench.environment import Environment


def test_pgqueuer_runs_the_same_workloads_with_delivery_checked(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not os.environ.get("PGQRS_TEST_DSN"):
        pytest.skip("peer mode is tested on the PGQRS_TEST_DSN server")
    if config_module.Config.from_dsn(dsn).behind_transaction_pooler:
        pytest.skip("asyncpg (pgqueuer's driver) prepares statements: not through a transaction pooler")
    cache = os.environ.get("PGQRS_BENCH_PEERS") or str(Path.home() / ".cache" / "pgqrs-bench" / "peers")
    monkeypatch.setenv("PGQRS_BENCH_PEERS", cache)
    out = tmp_path / "peers.json"
    arguments = ["--dsn", dsn, "--peers", "pgqueuer", "--api", "sync", "--workloads", "W1,W3,W3a,W5"]
    arguments += ["--messages", "W1=200,W3=500,W3a=300,W5=800", "--repeat", "1", "--json", str(out)]
    assert run(arguments) == 0
    document = json.loads(out.read_text())
    measured = {(item["workload"], item["target"]) for item in document["workloads"]}
    assert {("W1", "pgqueuer"), ("W3", "pgqueuer"), ("W5", "pgqueuer")} <= measured
    assert ("W3a", "pgqueuer") not in measured  # pgqueuer has no archive
    assert ("W3a", "sync") in measured
    assert document["peers"]["pgqueuer"]


def _direct(dsn: str) -> None:
    if not os.environ.get("PGQRS_TEST_DSN"):
        pytest.skip("peer mode is tested on the PGQRS_TEST_DSN server")
    if config_module.Config.from_dsn(dsn).behind_transaction_pooler:
        pytest.skip("the peers prepare statements or LISTEN: not through a transaction pooler")


def _databases(dsn: str) -> set[str]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        rows = connection.execute("SELECT datname FROM pg_database WHERE datname LIKE 'pgqrs_bench_%'")
        return {row[0] for row in rows}


# One enqueue and one consume workload each: the batch one where the peer has it.
ADAPTER_WORKLOADS = {
    "procrastinate": ("W2", "W4"),
    "pgmq": ("W1", "W3a"),
    "pgqrs-rust": ("W2", "W3a"),
}


@pytest.mark.parametrize("name", sorted(ADAPTER_WORKLOADS))
def test_peer_adapter_delivers_exactly_what_was_sent_and_drops_its_database(dsn: str, name: str) -> None:
    _direct(dsn)
    before = _databases(dsn)
    target = peers.PeerTarget(Environment.create(dsn), name)
    try:
        assert target.database is not None and target.database.name not in before
        assert target.version
        for workload in ADAPTER_WORKLOADS[name]:
            count = 150
            target.prepare(workload, count)
            for _ in target.steps(workload):
                pass
            target.verify(workload, count)  # raises DeliveryError on a loss, a duplicate or a leftover
            assert target.reply["seen"] == (0 if workload in ("W1", "W2") else count)
    finally:
        target.close()
    assert _databases(dsn) == before


def test_procrastinate_worker_drains_the_prepared_jobs_once_each(dsn: str) -> None:
    _direct(dsn)
    target = peers.PeerTarget(Environment.create(dsn), "procrastinate")
    try:
        assert target.run_runtime(120, 4, 0.0) > 0  # W8: checked by verify inside
        assert target.reply["distinct"] == 120
    finally:
        target.close()


def test_a_peer_lacking_a_workload_is_not_asked_to_run_it_and_says_why() -> None:
    lacking = {name: peer.lacks for name, peer in peers.PEERS.items()}
    assert "W3a" in lacking["pgqueuer"] and "W8" in lacking["pgmq"] and "W8" in lacking["pgqrs-rust"]
    assert all(why for lacks in lacking.values() for why in lacks.values())
    assert options.parse(["--peers", "all"]).peers == tuple(peers.PEERS)

"""The harness's peer mode: pgqueuer installed in an environment of its own, same workloads, checked.

Needs the package index (the peer is installed from it, once per cache folder) and a direct
server: asyncpg's prepared statements do not go through a transaction pooler.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pgqrs import config as config_module
from pgqrs.bench import run


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

"""W1p (`--producers N`): many producers on one Producer against raw W1, delivery checked."""

from __future__ import annotations

import json
from pathlib import Path

from pgqrs.bench import run


def test_many_producers_run_on_both_apis_with_delivery_checked(dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "producers.json"
    arguments = ["--dsn", dsn, "--workloads", "", "--producers", "8", "--messages", "W1=200", "--repeat", "1"]
    assert run([*arguments, "--json", str(out)]) == 0
    series = {item["target"]: item for item in json.loads(out.read_text())["producers"]}
    assert set(series) == {"raw", "sync", "async"}
    assert all(item["workload"] == "W1p" and item["messages"] == 200 for item in series.values())
    assert all(item["median"] > 0 for item in series.values())

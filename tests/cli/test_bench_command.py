"""`pgqrs bench`: the shipped benchmark harness on the configured server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import runner


def test_bench_help_is_the_harness_help(offline: runner.Cli) -> None:
    shown = offline.run("bench", "--help").expect(0)
    assert "usage: pgqrs bench" in shown.stdout
    assert "--smoke" in shown.stdout


def test_bench_on_an_unreachable_server_fails_fast_with_one_line(offline: runner.Cli) -> None:
    failed = offline.run("bench", "--smoke").expect(1)
    assert failed.stderr.startswith("pgqrs: error:")
    assert "Traceback" not in failed.stderr


def test_bench_measures_and_checks_delivery_on_the_configured_server(cli: runner.Cli, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cli.run(
        "bench",
        "--workloads",
        "W1,W3",
        "--api",
        "sync",
        "--messages",
        "300",
        "--repeat",
        "1",
        "--json",
        str(out),
    ).expect(0)
    document = json.loads(out.read_text())
    text = json.dumps(document)
    assert "W1" in text and "W3" in text and "raw" in text

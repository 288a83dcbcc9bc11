"""Issue 18's target lines: every target gets a line with its status and figures, from what a run
measured (figures made up here: the lines are arithmetic on the run's series, no database)."""

from __future__ import annotations

import pytest

from pgqrs.bench import goals
from pgqrs.bench.report import Series


def _series(target: str, rate: float, workload: str = "W1") -> Series:
    return Series(workload, target, 1000, [1000 / rate, 1000 / rate])


def _measured(**overrides: object) -> goals.Measured:
    workloads = {}
    for workload in goals.LIBRARY_WORKLOADS:
        workloads[(workload, "raw")] = _series("raw", 1000, workload)
        workloads[(workload, "raw+schema")] = _series("raw+schema", 1000, workload)
        workloads[(workload, "raw-async+schema")] = _series("raw-async+schema", 1000, workload)
        workloads[(workload, "sync")] = _series("sync", 950, workload)
        workloads[(workload, "async")] = _series("async", 850, workload)  # below 0.9 x its floor
        workloads[(workload, "pgqueuer")] = _series("pgqueuer", 500, workload)
    workloads.pop(("W3a", "pgqueuer"))
    throughput = {
        ("W8 c=16", "sync"): _series("sync", 900, "W8"),
        ("W8 c=16", "async"): _series("async", 700, "W8"),
        ("W8 c=16", "pgqueuer"): _series("pgqueuer", 500, "W8"),
        ("W8s c=64", "sync"): _series("sync", 6000, "W8s"),
        ("W8s c=64", "async"): _series("async", 5000, "W8s"),
        ("W8s c=64", "pgqueuer"): _series("pgqueuer", 4000, "W8s"),
    }
    latency = {"sync notify": {"samples": 200, "p50_ms": 1.5, "p99_ms": 8.0, "max_ms": 9.0}}
    latency["async notify"] = {"samples": 200, "p50_ms": 2.5, "p99_ms": 8.0, "max_ms": 9.0}
    callers = {"raw": _series("raw", 1000), "sync": _series("sync", 3500), "async": _series("async", 2000)}
    scale = {
        (10_000, "sync stale"): _series("sync stale", 1000, "W7"),
        (1_000_000, "sync stale"): _series("sync stale", 900, "W7"),
        (10_000, "async stale"): _series("async stale", 1000, "W7"),
        (100_000, "async stale"): _series("async stale", 950, "W7"),
    }
    fields: dict[str, object] = {
        "apis": ("sync", "async"),
        "workloads": workloads,
        "runtime": {"throughput": throughput, "latency": latency},
        "producers": callers,
        "scale": scale,
        "peers": {"pgqueuer": {"W3a": "no archive"}},
        "memory": {
            "consumer (drain, batch 100)": {"peak_rss_kib": {100_000: 40_000, 1_000_000: 90_000}},
            "runtime (pgqrs.App, concurrency 16, archive)": {
                "peak_rss_kib": {"100000": 41_000, "1000000": 44_000}  # as a saved JSON has them
            },
        },
    }
    fields.update(overrides)
    return goals.Measured(**fields)  # type: ignore[arg-type]


def _by_what(found: list[goals.Line]) -> dict[str, goals.Line]:
    return {line.what: line for line in found}


def test_every_target_gets_a_line_with_its_status_and_figures() -> None:
    found = _by_what(goals.lines(_measured()))
    assert found["W1 sync >= 0.9 x raw+schema"].status == goals.MET
    assert found["W1 async >= 0.9 x raw-async+schema"].status == goals.NOT_MET
    assert found["W1 async >= 0.9 x raw-async+schema"].figures == "0.85 (850 vs 1,000 msg/s)"
    assert found["W3 ahead of pgqueuer"].status == goals.MET
    assert found["W3a ahead of pgqueuer"].status == "n/a"
    assert "no archive" in found["W3a ahead of pgqueuer"].figures
    assert found["W6 sync with NOTIFY: p50 <= 2 ms, p99 <= 10 ms"].status == goals.MET
    assert found["W6 async with NOTIFY: p50 <= 2 ms, p99 <= 10 ms"].status == goals.NOT_MET
    assert found["W8 c=16 sync >= 0.8 x W3 raw+schema"].status == goals.MET
    assert found["W8 c=16 async >= 1.5 x pgqueuer's worker"].status == goals.NOT_MET
    assert found["W8s c=64 sync within 10% of ideal"].status == goals.MET
    assert found["W8s c=64 async within 10% of ideal"].status == goals.NOT_MET
    assert found["W1p sync, 64 threads on one Producer >= 3 x W1 raw (1 connection)"].status == goals.MET
    assert found["W1p async, 64 tasks on one Producer >= 3 x W1 raw (1 connection)"].status == goals.NOT_MET
    assert found["W7 sync, stale statistics, 1M pending >= 0.8 x 10k"].status == goals.MET
    # Measured only to 100k: the figures are shown, the target is not judged.
    unjudged = found["W7 async, stale statistics, 1M pending >= 0.8 x 10k"]
    assert unjudged.status == goals.UNMEASURED and "0.95 at 100,000" in unjudged.figures
    memory = found["runtime peak RSS draining 1M within 10% of 100k"]  # the consumer's is not it
    assert (memory.status, memory.figures) == (
        goals.MET,
        "+7.3% (44,000 KiB at 1,000,000 vs 41,000 KiB at 100,000)",
    )


def test_the_runtime_memory_line_judges_only_1m_against_100k() -> None:
    grown = {"runtime (x)": {"peak_rss_kib": {100_000: 40_000, 1_000_000: 48_000}}}
    (line,) = goals.memory_lines(_measured(memory=grown))
    assert line.status == goals.NOT_MET and line.figures.startswith("+20.0%")
    small = {"runtime (x)": {"peak_rss_kib": {1_000: 40_000, 10_000: 40_000}}}
    (line,) = goals.memory_lines(_measured(memory=small))
    assert line.status == goals.UNMEASURED and "--memory-max 1000000" in line.figures


def test_what_a_run_did_not_measure_is_said_so_with_how_to_measure_it() -> None:
    found = goals.lines(_measured(workloads={}, runtime={}, producers={}, scale={}, peers={}, memory={}))
    assert {line.status for line in found} == {goals.UNMEASURED}
    hints = " ".join(line.figures for line in found)
    for flag in ("--bounds", "--peers all", "--runtime", "--scale --stale-statistics", "--memory"):
        assert flag in hints


def test_the_lines_and_the_peer_table_print(capsys: pytest.CaptureFixture[str]) -> None:
    measured = _measured()
    goals.show(goals.lines(measured))
    printed = capsys.readouterr().out
    assert "[met] 1. W1 sync >= 0.9 x raw+schema: 0.95 (950 vs 1,000 msg/s)" in printed
    assert "[NOT MET] 3. W8 c=16 async >= 1.5 x pgqueuer's worker: 1.40 (700 vs 500 msg/s)" in printed
    header, rows = goals.peer_table(measured)
    assert header == ["workload", "sync msg/s", "async msg/s", "pgqueuer msg/s (pgqrs x)"]
    assert ["W3", "950", "850", "500 (1.7x)"] in rows
    assert ["W3a", "950", "850", "n/a"] in rows
    assert goals.peer_reasons(measured) == ["pgqueuer W3a: no archive"]

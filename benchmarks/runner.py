"""Orchestration: one schema per run, targets interleaved per repetition, tables and JSON out."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from benchmarks import memory, parallel, report
from benchmarks.environment import DeliveryError, Environment
from benchmarks.options import Options, parse
from benchmarks.report import Series
from benchmarks.targets import AsyncTarget, RawTarget, SyncTarget, Target
from pgqrs import _dsn, errors

_ATTEMPTS = 3


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _order(targets: Sequence[Target], repetition: int) -> Sequence[Target]:
    # A B A B, with the order flipped every other repetition so neither side always goes first.
    return targets if repetition % 2 == 0 else list(reversed(targets))


def _lost(error: Exception) -> bool:
    return isinstance(error, psycopg.OperationalError) or bool(getattr(error, "connection_lost", False))


def resilient(environment: Environment, targets: Sequence[Target], action: Callable[[], float]) -> float:
    """Run one timed run; when the server restarts under it (a shared server), wait and run it again."""
    for attempt in range(_ATTEMPTS):
        try:
            return action()
        except (psycopg.Error, errors.DatabaseError, parallel.ConsumerProcessError) as error:
            if attempt == _ATTEMPTS - 1 or not _lost(error):
                raise
            _progress(f"  connection lost ({str(error).splitlines()[0]}); repeating the run")
            environment.reconnect()
            for target in targets:
                target.recover()
    raise AssertionError("unreachable")


def measure_workloads(
    environment: Environment, targets: Sequence[Target], options: Options
) -> dict[tuple[str, str], Series]:
    """Run every workload `repeat` times on every target, interleaved."""
    results: dict[tuple[str, str], Series] = {}
    for workload in options.workloads:
        count = options.messages[workload]
        for target in targets:
            results[(workload, target.name)] = Series(workload, target.name, count)
        for repetition in range(options.repeat):
            for target in _order(targets, repetition):
                run = functools.partial(target.run, workload, count, options.processes)
                seconds = resilient(environment, targets, run)
                results[(workload, target.name)].seconds.append(seconds)
                _progress(f"{workload} #{repetition + 1} {target.name:>5}: {count / seconds:>10,.0f} msg/s")
    return results


def measure_scale(
    environment: Environment, targets: Sequence[Target], options: Options
) -> dict[tuple[int, str], Series]:
    """W7: W3's rate over the first messages of 10k, 100k (1M) pending, with a full archive."""
    archive_rows = max(options.scale_sizes)
    environment.fill_history(archive_rows)
    _progress(f"W7: {archive_rows:,} rows in the pgqrs archive")
    results: dict[tuple[int, str], Series] = {}
    for size in options.scale_sizes:
        drain = min(options.scale_drain, size)
        for target in targets:
            results[(size, target.name)] = Series("W7", target.name, drain)
        for repetition in range(options.repeat):
            for target in _order(targets, repetition):
                seconds = resilient(environment, targets, functools.partial(target.run_scale, size, drain))
                results[(size, target.name)].seconds.append(seconds)
                _progress(f"W7 {size:,} #{repetition + 1} {target.name:>5}: {drain / seconds:>10,.0f} msg/s")
    return results


def _document(
    options: Options,
    machine: dict[str, Any],
    results: dict[tuple[str, str], Series],
    scale: dict[tuple[int, str], Series],
    rss: dict[str, Any],
) -> dict[str, Any]:
    ratios: dict[str, dict[str, float]] = {}
    for (workload, target), series in results.items():
        if target != "raw":
            ratios.setdefault(workload, {})[target] = round(
                report.ratio(series, results[(workload, "raw")]), 3
            )
    return {
        "machine": machine,
        "options": dataclasses.asdict(options),
        "workloads": [series.as_dict() for series in results.values()],
        "ratios": ratios,
        "scale": [{"pending": size, **series.as_dict()} for (size, _), series in scale.items()],
        "memory": rss,
    }


def _show(
    options: Options,
    results: dict[tuple[str, str], Series],
    scale: dict[tuple[int, str], Series],
    rss: dict[str, Any],
    names: Sequence[str],
) -> None:
    header = ["workload", "what", "messages", "raw msg/s (min-max)"]
    for name in names[1:]:
        header += [f"{name} msg/s (min-max)", f"{name}/raw"]
    report.show(
        f"pgqrs / raw SQL, medians of {options.repeat}", header, report.workload_rows(results, names[1:])
    )
    if scale:
        header = ["pending"]
        for name in names:
            header += [f"{name} msg/s", f"{name} vs {min(options.scale_sizes):,}"]
        report.show(
            f"W7: W3 draining {options.scale_drain:,} with N pending", header, report.scale_rows(scale, names)
        )
    if rss:
        report.show(
            "Peak RSS (child process)", ["process", "peak RSS by messages", "growth"], report.memory_rows(rss)
        )


def run(argv: Sequence[str] | None = None) -> int:
    """Run the harness; return 0, or 1 when a message was lost or delivered twice."""
    options = parse(argv)
    environment = Environment.create(_dsn.resolve(options.dsn))
    targets: list[Target] = []
    try:
        for statement in options.setup_sql:
            environment.execute(statement)
        targets.append(RawTarget(environment))
        builders = {"sync": SyncTarget, "async": AsyncTarget}
        for package in ("pgqrs", *options.compare):
            targets += [builders[api](environment, package) for api in options.apis]
        machine = report.machine(environment.connection)
        results = measure_workloads(environment, targets, options)
        scale = measure_scale(environment, targets, options) if options.scale_sizes else {}
        rss = (
            memory.measure(environment, options.memory_sizes, options.send_command)
            if options.memory_sizes
            else {}
        )
    except DeliveryError as error:
        print(f"delivery check failed: {error}", file=sys.stderr)
        return 1
    finally:
        for target in targets:
            target.close()
        environment.close()
    _show(options, results, scale, rss, [target.name for target in targets])
    if options.json_path is not None:
        report.write_json(options.json_path, _document(options, machine, results, scale, rss))
    return 0

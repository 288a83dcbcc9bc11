"""Orchestration: a schema per target, workloads repeated and interleaved, tables and JSON out."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pgqrs import _dsn
from pgqrs.bench import goals, memory, peers, producers, report, runtime_bench, timing
from pgqrs.bench.environment import DeliveryError, Environment
from pgqrs.bench.options import Options, parse
from pgqrs.bench.report import Series
from pgqrs.bench.targets import AsyncRawTarget, AsyncTarget, RawTarget, SyncTarget, Target


def measure_workloads(
    targets: Sequence[Target], options: Options, results: dict[tuple[str, str], Series]
) -> None:
    """Run every workload `repeat` times on every target, adding to `results` as it goes."""
    for workload in options.workloads:
        count = options.messages[workload]
        taking_part = [target for target in targets if target.takes(workload)]
        for target in taking_part:
            results[(workload, target.name)] = Series(workload, target.name, count)
        for turn in range(options.repeat):
            action = functools.partial(
                timing.repetition,
                taking_part,
                workload,
                count,
                turn,
                options.interleave,
                options.processes,
                None,
            )
            for name, seconds in timing.resilient(taking_part, action).items():
                results[(workload, name)].seconds.append(seconds)
                timing.progress(f"{workload} #{turn + 1} {name:>16}: {count / seconds:>10,.0f} msg/s")


def measure_scale(
    targets: Sequence[Target], options: Options, results: dict[tuple[int, str], Series]
) -> None:
    """W7: W3's rate over the first messages of 10k, 100k (1M) pending, with a full archive.

    With `scale_stale`, every size runs a second time with the statistics gathered before the
    backlog arrived (reported as "<target> stale").
    """
    archive_rows = max(options.scale_sizes)
    targets = [target for target in targets if target.takes("W7")]
    for target in targets:
        if not isinstance(target, RawTarget):
            target.environment.fill_history(archive_rows)
    timing.progress(f"W7: {archive_rows:,} rows in each pgqrs archive")
    for stale in (False, True) if options.scale_stale else (False,):
        for target in targets:
            target.environment.stale_statistics = stale
        for size in options.scale_sizes:
            _measure_size(targets, options, size, " stale" if stale else "", results)
    for target in targets:
        target.environment.stale_statistics = False


def _measure_size(
    targets: Sequence[Target],
    options: Options,
    size: int,
    suffix: str,
    results: dict[tuple[int, str], Series],
) -> None:
    drain = min(options.scale_drain, size)
    for target in targets:
        results[(size, target.name + suffix)] = Series("W7", target.name + suffix, drain)
    for turn in range(options.repeat):
        action = functools.partial(timing.repetition, targets, "W7", size, turn, options.interleave, 0, drain)
        for name, seconds in timing.resilient(targets, action).items():
            results[(size, name + suffix)].seconds.append(seconds)
            timing.progress(f"W7{suffix} {size:,} #{turn + 1} {name:>16}: {drain / seconds:>10,.0f} msg/s")


def _document(
    options: Options,
    machine: dict[str, Any],
    results: dict[tuple[str, str], Series],
    scale: dict[tuple[int, str], Series],
    rss: dict[str, Any],
    peer_versions: dict[str, str],
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
        "peers": peer_versions,
    }


def _show(
    options: Options,
    results: dict[tuple[str, str], Series],
    scale: dict[tuple[int, str], Series],
    rss: dict[str, Any],
    names: Sequence[str],
) -> None:
    if results:
        header = ["workload", "what", "messages", "raw msg/s (min-max)"]
        for name in names[1:]:
            header += [f"{name} msg/s (min-max)", f"{name}/raw"]
        title = f"pgqrs / raw SQL, medians of {options.repeat} ({options.interleave}-interleaved)"
        report.show(title, header, report.workload_rows(results, names[1:]))
    if scale:
        smallest = min(size for size, _ in scale)
        drained = max(series.messages for series in scale.values())
        header = ["pending"]
        for name in dict.fromkeys(name for _, name in scale):
            header += [f"{name} msg/s", f"{name} vs {smallest:,}"]
        title = f"W7: W3 draining {drained:,} with N pending"
        report.show(title, header, report.scale_rows(scale, list(dict.fromkeys(name for _, name in scale))))
    if rss:
        report.show(
            "Peak RSS (child process)", ["process", "peak RSS by messages", "growth"], report.memory_rows(rss)
        )


def _targets(dsn: str, options: Options) -> list[Target]:
    targets: list[Target] = []
    bounds = ("raw+schema", "raw-async+schema") if options.bounds else ()
    try:
        for kind in (
            "raw",
            *bounds,
            *((api, package) for package in ("pgqrs", *options.compare) for api in options.apis),
        ):
            environment = Environment.create(dsn, kind[1] if isinstance(kind, tuple) else "pgqrs")
            for statement in options.setup_sql:
                environment.execute(statement)
            if kind == "raw-async+schema":
                targets.append(AsyncRawTarget(environment))
            elif isinstance(kind, str):
                targets.append(RawTarget(environment, required_schema=kind == "raw+schema"))
            else:
                api, package = kind
                builder = SyncTarget if api == "sync" else AsyncTarget
                targets.append(builder(environment, package))
        for name in options.peers:
            environment = Environment.create(dsn)
            targets.append(peers.PeerTarget(environment, name))
    except BaseException:
        for target in targets:
            target.close()
        raise
    return targets


def _measure_runtime(targets: Sequence[Target], options: Options) -> dict[str, Any]:
    """W8 (with the peers that have a worker) and W6; see runtime_bench."""
    dsn = targets[0].environment.dsn
    peer_targets = [
        target for target in targets if isinstance(target, peers.PeerTarget) and target.takes("W8")
    ]
    throughput = runtime_bench.measure_throughput(dsn, options, peer_targets)
    return {"throughput": throughput, "latency": runtime_bench.measure_latency(dsn, options)}


def _show_goals(
    options: Options,
    targets: Sequence[Target],
    results: dict[tuple[str, str], Series],
    runtime: dict[str, Any],
    many: dict[str, Series],
    scale: dict[tuple[int, str], Series],
    rss: dict[str, Any],
) -> list[goals.Line]:
    """With --bounds or --peers: the peer table and every target's line (issue 18)."""
    if not (options.bounds or options.peers):
        return []
    lacking = {
        target.name: dict(target.peer.lacks) for target in targets if isinstance(target, peers.PeerTarget)
    }
    measured = goals.Measured(options.apis, results, runtime, many, scale, lacking, rss)
    if lacking:
        header, rows = goals.peer_table(measured)
        title = "Against the peers (medians; pgqrs x: its slower API's rate over the peer's)"
        report.show(title, header, rows)
        print("\n".join(f"  n/a: {reason}" for reason in goals.peer_reasons(measured)))
    found = goals.lines(measured)
    goals.show(found)
    return found


def _show_saved(options: Options, path: Path) -> int:
    document = json.loads(path.read_text(encoding="utf-8"))
    results, scale = report.series_from(document)
    names = list(dict.fromkeys(name for _, name in [*results, *scale]))
    repeat = len(next(iter(results.values())).seconds) if results else options.repeat
    _show(dataclasses.replace(options, repeat=repeat), results, scale, document.get("memory") or {}, names)
    saved = [goals.Line(**line) for line in document.get("targets") or []]
    if saved:
        goals.show(saved)
    return 0


@contextlib.contextmanager
def _exit_cleanly_on_sigterm() -> Iterator[None]:
    """A stopped run (SIGTERM) still drops its schemas, peer databases and peer processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the harness; return 0, or 1 when a message was lost or delivered twice."""
    options = parse(argv)
    if options.show is not None:
        return _show_saved(options, options.show)
    with _exit_cleanly_on_sigterm():
        return _run(options)


def _run(options: Options) -> int:
    targets = _targets(_dsn.resolve(options.dsn), options)
    names = [target.name for target in targets]
    results: dict[tuple[str, str], Series] = {}
    scale: dict[tuple[int, str], Series] = {}
    rss: dict[str, Any] = {}
    machine = report.machine(targets[0].environment.connection)
    runtime: dict[str, Any] = {}
    many: dict[str, Series] = {}
    try:
        measure_workloads(targets, options, results)
        if options.producers:
            many = producers.measure(targets, options)
        if options.scale_sizes:
            measure_scale(targets, options, scale)
        if options.runtime:
            runtime = _measure_runtime(targets, options)
        if options.memory_sizes:
            probe = functools.partial(
                memory.measure, targets[0].environment, options.memory_sizes, options.send_command
            )
            rss = timing.resilient(targets, probe)
    except DeliveryError as error:
        print(f"delivery check failed: {error}", file=sys.stderr)
        return 1
    finally:
        for target in targets:
            target.close()
        # What was measured is shown and saved even when a later part failed.
        complete = {key: series for key, series in results.items() if series.seconds}
        finished = {key: series for key, series in scale.items() if series.seconds}
        _show(options, complete, finished, rss, names)
        report.show_runtime(runtime)
        producers.show_results(
            {name: series for name, series in many.items() if series.seconds}, options.producers
        )
        found = _show_goals(options, targets, complete, runtime, many, finished, rss)
        if options.json_path is not None:
            versions = {
                target.name: target.version for target in targets if isinstance(target, peers.PeerTarget)
            }
            document = _document(options, machine, complete, finished, rss, versions)
            document["runtime"] = report.runtime_document(runtime)
            document["producers"] = [series.as_dict() for series in many.values() if series.seconds]
            document["targets"] = [dataclasses.asdict(line) for line in found]
            report.write_json(options.json_path, document)
    return 0

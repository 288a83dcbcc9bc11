"""Command-line options of the harness (``pgqrs bench --help``)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
WORKLOADS = ("W1", "W2", "W3", "W3a", "W4", "W5")
APIS = ("sync", "async")
PEER_NAMES = ("pgqueuer", "procrastinate", "pgmq", "pgqrs-rust")  # pgqrs.bench.peers.PEERS
TITLES = {
    "W1": "enqueue x1",
    "W2": "batch_enqueue 100",
    "W3": "dequeue 100 + delete",
    "W3a": "dequeue 100 + archive",
    "W4": "dequeue + delete x1",
    "W5": "4 processes, batch 100",
    "W7": "W3 with N pending",
    "W8": "runtime, no-op handlers",
    "W8s": "runtime, handlers sleep 10 ms",
}
# Sized for about 3-5 s per run on a 2-core machine.
DEFAULT_MESSAGES = {"W1": 10_000, "W2": 100_000, "W3": 100_000, "W3a": 100_000, "W4": 5_000, "W5": 200_000}
SMOKE_MESSAGES = {"W1": 300, "W2": 2_000, "W3": 2_000, "W3a": 2_000, "W4": 200, "W5": 2_000}
SCALE_SIZES = (10_000, 100_000, 1_000_000)


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything a run needs to know."""

    dsn: str
    messages: dict[str, int]
    repeat: int
    workloads: tuple[str, ...]
    apis: tuple[str, ...]
    json_path: Path | None
    smoke: bool
    processes: int
    scale_sizes: tuple[int, ...]
    scale_drain: int
    scale_stale: bool
    memory_sizes: tuple[int, ...]
    send_command: str | None
    compare: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    interleave: str = "step"
    show: Path | None = None
    setup_sql: tuple[str, ...] = ()
    bounds: bool = False
    runtime: bool = False
    runtime_messages: int = 20_000
    latency_messages: int = 200
    producers: int = 0


def _names(text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    lookup = {name.lower(): name for name in allowed}
    chosen = tuple(lookup.get(item.strip().lower(), item.strip()) for item in text.split(",") if item.strip())
    unknown = [name for name in chosen if name not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})"
        )
    return chosen


def _peers(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "all":
        return PEER_NAMES
    return _names(text, PEER_NAMES, "peer") if text else ()


def _messages(text: str | None, defaults: dict[str, int]) -> dict[str, int]:
    if text is None:
        return dict(defaults)
    if "=" not in text:
        return dict.fromkeys(defaults, int(text))
    chosen = dict(defaults)
    for item in text.split(","):
        name, _, value = item.partition("=")
        chosen[_names(name, WORKLOADS, "workload")[0]] = int(value)
    return chosen


def parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    result = argparse.ArgumentParser(
        prog="pgqrs bench",
        description="pgqrs against a hand-written raw-SQL queue, interleaved (docs/performance.md).",
    )
    result.add_argument(
        "--dsn",
        default=os.environ.get("PGQRS_BENCH_DSN", DEFAULT_DSN),
        help="server to measure (env PGQRS_BENCH_DSN; 'embedded' works too)",
    )
    result.add_argument("--messages", help="messages per run: N for every workload, or W1=20000,W4=5000")
    result.add_argument("--repeat", type=int, default=3, help="interleaved repetitions (default 3)")
    result.add_argument("--workloads", default=",".join(WORKLOADS), help="subset of W1,W2,W3,W3a,W4,W5")
    result.add_argument("--api", default=",".join(APIS), help="pgqrs APIs to measure: sync,async")
    result.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    result.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one repetition, delivery checked (CI)"
    )
    result.add_argument("--processes", type=int, default=4, help="W5 consumer processes (default 4)")
    result.add_argument(
        "--scale", action="store_true", help="also run W7 (10k, 100k pending; see --scale-max)"
    )
    result.add_argument(
        "--scale-max", type=int, default=100_000, help="largest W7 size (1000000 for the full W7)"
    )
    result.add_argument("--scale-drain", type=int, default=10_000, help="messages W7 drains at each size")
    result.add_argument(
        "--stale-statistics",
        action="store_true",
        help="W7 also with statistics gathered before the backlog arrived (a new queue's state)",
    )
    result.add_argument(
        "--memory",
        action="store_true",
        help="also report the peak RSS of a draining consumer and of a streaming producer",
    )
    result.add_argument(
        "--memory-max", type=int, default=100_000, help="largest memory size (10x the smaller)"
    )
    result.add_argument(
        "--send-command",
        help="streaming producer command for --memory, with {dsn} {schema} {queue} (default: "
        "'python -m pgqrs ... message send QUEUE -' when the CLI is installed, else a stand-in)",
    )
    result.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="also measure a pgqrs copy importable as PACKAGE (see pgqrs.bench.variant)",
    )
    result.add_argument(
        "--peers",
        default="",
        metavar="NAMES",
        help="also measure these peer libraries (or 'all'), each in a virtual environment of its own "
        "(created once, from the package index) and a database of its own: " + ", ".join(PEER_NAMES),
    )
    result.add_argument(
        "--bounds",
        action="store_true",
        help="also measure the floors under pgqrs: raw+schema (the raw SQL on tables made like "
        "pgqrs's, with issue 2's foreign keys) and raw-async+schema (that SQL on psycopg's async "
        "connection), and W1p with 64 producers (see --producers); print every target's line (issue 18)",
    )
    result.add_argument(
        "--runtime",
        action="store_true",
        help="also measure the worker runtime: W8 (throughput of no-op handlers at concurrency 1, 16, "
        "64, and W8s: handlers sleeping 10 ms at 64) and W6 (enqueue-to-handler latency, p50/p99)",
    )
    result.add_argument("--runtime-messages", type=int, default=20_000, help="W8 messages per run")
    result.add_argument("--latency-messages", type=int, default=200, help="W6 enqueues per mode")
    result.add_argument(
        "--producers",
        type=int,
        default=0,
        metavar="N",
        help="also measure W1p: N tasks (async) and N threads (sync) calling enqueue on one Producer, "
        "against raw W1 (--workloads '' to measure only that)",
    )
    result.add_argument(
        "--show", type=Path, metavar="JSON", help="print the tables of a saved --json run, run nothing"
    )
    result.add_argument(
        "--interleave",
        choices=("step", "run"),
        default="step",
        help="step: alternate ~50 ms slices of every target (default); run: whole runs A B A B",
    )
    result.add_argument(
        "--setup-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="statement run after install, {schema} filled in (e.g. to drop a constraint)",
    )
    return result


def parse(argv: Sequence[str] | None) -> Options:
    """Parse command-line arguments into `Options`."""
    arguments = parser().parse_args(argv)
    try:
        workloads = _names(arguments.workloads, WORKLOADS, "workload")
        apis = _names(arguments.api, APIS, "api")
        smoke = bool(arguments.smoke)
        messages = _messages(arguments.messages, SMOKE_MESSAGES if smoke else DEFAULT_MESSAGES)
        peers = _peers(arguments.peers)
    except (argparse.ArgumentTypeError, ValueError) as error:
        parser().error(str(error))
    scale_sizes: tuple[int, ...] = ()
    if smoke:
        scale_sizes = (1_000, 5_000)
    elif arguments.scale:
        scale_sizes = tuple(size for size in SCALE_SIZES if size <= arguments.scale_max)
    memory_max = 5_000 if smoke else arguments.memory_max
    return Options(
        dsn=arguments.dsn,
        messages=messages,
        repeat=1 if smoke else max(1, arguments.repeat),
        workloads=workloads,
        apis=apis,
        json_path=arguments.json,
        smoke=smoke,
        processes=arguments.processes,
        scale_sizes=scale_sizes,
        scale_drain=500 if smoke else arguments.scale_drain,
        scale_stale=arguments.stale_statistics or smoke,
        memory_sizes=(max(1, memory_max // 10), memory_max) if smoke or arguments.memory else (),
        send_command=arguments.send_command,
        compare=tuple(arguments.compare),
        peers=peers,
        setup_sql=tuple(arguments.setup_sql),
        bounds=bool(arguments.bounds),
        runtime=bool(arguments.runtime) or smoke,
        runtime_messages=500 if smoke else arguments.runtime_messages,
        latency_messages=10 if smoke else arguments.latency_messages,
        interleave=arguments.interleave,
        # --bounds judges issue 18's 64 producers: W1p at 64 unless told otherwise.
        producers=max(0, arguments.producers) or (64 if arguments.bounds else 0),
        show=arguments.show,
    )

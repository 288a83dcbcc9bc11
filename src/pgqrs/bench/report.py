"""Medians, spreads and ratios of the measurements, shown as a table and written as JSON."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

from pgqrs.bench.options import TITLES


@dataclasses.dataclass
class Series:
    """Every repetition of one workload on one target."""

    workload: str
    target: str
    messages: int
    seconds: list[float] = dataclasses.field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [self.messages / seconds for seconds in self.seconds]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def as_dict(self) -> dict[str, Any]:
        rates = self.rates
        return {
            "workload": self.workload,
            "target": self.target,
            "messages": self.messages,
            "seconds": [round(value, 4) for value in self.seconds],
            "rates": [round(rate) for rate in rates],
            "median": round(self.median),
            "min": round(min(rates)),
            "max": round(max(rates)),
        }


def ratios(series: Series, baseline: Series) -> list[float]:
    """Return the rate of `series` over the baseline's, repetition by repetition (measured together)."""
    return [mine / theirs for mine, theirs in zip(series.rates, baseline.rates, strict=True)]


def ratio(series: Series, baseline: Series) -> float:
    """Return the median of the per-repetition ratios (robust to a slow repetition on a shared machine)."""
    return statistics.median(ratios(series, baseline))


def _cell(series: Series) -> str:
    rates = series.rates
    return f"{series.median:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def workload_rows(results: dict[tuple[str, str], Series], apis: Sequence[str]) -> list[list[str]]:
    """Return one table row per workload: raw, then each API with its ratio to raw."""
    rows = []
    for workload in dict.fromkeys(key[0] for key in results):
        baseline = results[(workload, "raw")]
        row = [workload, TITLES[workload], f"{baseline.messages:,}", _cell(baseline)]
        for api in apis:
            series = results.get((workload, api))
            if series is None:  # a peer without this workload
                row += ["-", "-"]
                continue
            row += [_cell(series), _ratio_cell(ratios(series, baseline))]
        rows.append(row)
    return rows


def _ratio_cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def series_from(
    document: dict[str, Any],
) -> tuple[dict[tuple[str, str], Series], dict[tuple[int, str], Series]]:
    """Rebuild the measurements of a saved JSON document."""
    results = {
        (item["workload"], item["target"]): Series(
            item["workload"], item["target"], item["messages"], item["seconds"]
        )
        for item in document["workloads"]
    }
    scale = {
        (item["pending"], item["target"]): Series("W7", item["target"], item["messages"], item["seconds"])
        for item in document["scale"]
    }
    return results, scale


def scale_rows(results: dict[tuple[int, str], Series], targets: Sequence[str]) -> list[list[str]]:
    """Return one row per W7 size: each target's rate and its ratio to the smallest size."""
    sizes = sorted(dict.fromkeys(key[0] for key in results))
    rows = []
    for size in sizes:
        row = [f"{size:,}"]
        for target in targets:
            series = results[(size, target)]
            row += [_cell(series), _ratio_cell(ratios(series, results[(sizes[0], target)]))]
        rows.append(row)
    return rows


def memory_rows(memory: dict[str, Any]) -> list[list[str]]:
    """Return one row per child process: peak RSS at each size and the growth."""
    rows = []
    for role, figures in memory.items():
        peaks = [f"{int(size):,}: {peak / 1024:.1f} MiB" for size, peak in figures["peak_rss_kib"].items()]
        rows.append([role, ", ".join(peaks), f"{figures['growth_kib'] / 1024:+.1f} MiB"])
    return rows


def show(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table with rich when it is installed, as plain aligned text otherwise."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
        print(f"\n{title}")
        for line in (header, *rows):
            print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
        return
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="left" if name in ("workload", "what", "process") else "right")
    for row in rows:
        table.add_row(*row)
    # A terminal's width (or COLUMNS): cells wrap to fit. Piped output keeps the natural width.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 400
    Console(width=width).print(table)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine(connection: psycopg.Connection[Any]) -> dict[str, Any]:
    """Describe the machine, the server and the client libraries."""
    import pgqrs

    cpu = ""
    if Path("/proc/cpuinfo").exists():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    memory = ""
    if Path("/proc/meminfo").exists():
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    row = connection.execute("SELECT version()").fetchone()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory": memory,
        "platform": platform.platform(),
        "postgresql": row[0] if row else "",
        "python": platform.python_version(),
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})",
        "psycopg_pool": _version("psycopg-pool"),
        "orjson": _version("orjson"),
        "pgqrs": str(Path(pgqrs.__file__).parent),
        "commit": _commit(Path(pgqrs.__file__).parent),
    }


def _commit(folder: Path) -> str | None:
    """Return the git commit of the library's checkout (with '+' when it has local changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "."], capture_output=True, text=True
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write the results document."""
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def runtime_document(runtime: dict[str, Any]) -> dict[str, Any]:
    """Return the runtime measurements as JSON data."""
    if not runtime:
        return {}
    throughput = [
        {"label": label, **series.as_dict()} for (label, _target), series in runtime["throughput"].items()
    ]
    return {"throughput": throughput, "latency": runtime["latency"]}


def show_runtime(runtime: dict[str, Any]) -> None:
    """Print W8 (each target's rate and its ratio to the raw loop) and W6 (latency percentiles)."""
    if not runtime:
        return
    throughput: dict[tuple[str, str], Series] = runtime["throughput"]
    targets = list(dict.fromkeys(target for _, target in throughput))
    header = ["workload"] + [f"{target} msg/s" for target in targets] + [f"{t}/raw" for t in targets[1:]]
    rows = []
    for label in dict.fromkeys(label for label, _ in throughput):
        baseline = throughput[(label, "raw")]
        row = [label] + [_cell(throughput[(label, target)]) for target in targets]
        row += [_ratio_cell(ratios(throughput[(label, target)], baseline)) for target in targets[1:]]
        rows.append(row)
    show("W8: the worker runtime draining no-op (or 10 ms) handlers", header, rows)
    latency = runtime["latency"]
    show(
        "W6: enqueue call to handler start (ms)",
        ["mode", "samples", "p50", "p99", "max"],
        [
            [mode, str(int(f["samples"])), str(f["p50_ms"]), str(f["p99_ms"]), str(f["max_ms"])]
            for mode, f in latency.items()
        ],
    )

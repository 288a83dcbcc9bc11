"""Issue 18's targets, each printed as one line with its status and the figures behind it.

A status is "met", "NOT MET" or "not measured" (with what to run to measure it); a peer that
cannot run a workload gets a line with the reason instead. Every figure is a median of the run's
repetitions; a ratio between two targets of the same table is the median of the per-repetition
ratios (they ran interleaved), otherwise the ratio of the medians.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from pgqrs.bench import report
from pgqrs.bench.report import Series

LIBRARY_WORKLOADS = ("W1", "W2", "W3", "W3a", "W4", "W5")
FLOORS = {"sync": "raw+schema", "async": "raw-async+schema"}
W6_P50_MS, W6_P99_MS = 2.0, 10.0
IDEAL_SLEEPY = 64 / 0.010  # 64 handlers at once, 10 ms each
MET, NOT_MET, UNMEASURED = "met", "NOT MET", "not measured"


@dataclasses.dataclass(frozen=True)
class Line:
    """One target's line."""

    group: str
    what: str
    status: str
    figures: str

    def text(self) -> str:
        return f"[{self.status}] {self.group}. {self.what}: {self.figures}"


@dataclasses.dataclass
class Measured:
    """What a run measured, as the runner holds it."""

    apis: Sequence[str]
    workloads: dict[tuple[str, str], Series]
    runtime: dict[str, Any]
    producers: dict[str, Series]
    scale: dict[tuple[int, str], Series]
    peers: dict[str, dict[str, str]]  # peer -> {workload: why it is not run}
    memory: dict[str, Any] = dataclasses.field(default_factory=dict)  # --memory's report


def _status(met: bool) -> str:
    return MET if met else NOT_MET


def _workload(label: str) -> str:
    """Return the workload of a table label ("W8s c=64" -> "W8": the runtime, sleeping or not)."""
    name = label.split(" ")[0]
    return "W8" if name == "W8s" else name


def _ratio(series: Series, baseline: Series) -> float:
    if len(series.seconds) == len(baseline.seconds):
        return report.ratio(series, baseline)
    return series.median / baseline.median


def library_lines(measured: Measured) -> list[Line]:
    """1: each workload, each API, >= 0.9 x its same-work floor."""
    lines = []
    for workload in LIBRARY_WORKLOADS:
        for api in measured.apis:
            what = f"{workload} {api} >= 0.9 x {FLOORS[api]}"
            series = measured.workloads.get((workload, api))
            floor = measured.workloads.get((workload, FLOORS[api]))
            if series is None or floor is None:
                lines.append(Line("1", what, UNMEASURED, "run with --bounds and this workload"))
                continue
            ratio = _ratio(series, floor)
            figures = f"{ratio:.2f} ({series.median:,.0f} vs {floor.median:,.0f} msg/s)"
            lines.append(Line("1", what, _status(ratio >= 0.9), figures))
    return lines


def _peer_series(measured: Measured) -> dict[tuple[str, str], Series]:
    """Every (workload, target) rate a peer comparison can use: W1-W5 and W8's labels."""
    combined = dict(measured.workloads)
    for (label, target), series in (measured.runtime.get("throughput") or {}).items():
        combined[(label, target)] = series
    return combined


def peer_lines(measured: Measured) -> list[Line]:
    """2: ahead of every peer on every workload, both APIs (a line per peer and workload)."""
    combined = _peer_series(measured)
    labels = [*LIBRARY_WORKLOADS, *dict.fromkeys(label for label, _ in combined if label.startswith("W8"))]
    lines = []
    for peer, lacks in measured.peers.items():
        for label in labels:
            what = f"{label} ahead of {peer}"
            reason = lacks.get(_workload(label))
            theirs = combined.get((label, peer))
            ours = {api: combined.get((label, api)) for api in measured.apis}
            if reason is not None:
                lines.append(Line("2", what, "n/a", f"{peer} cannot run it: {reason}"))
            elif theirs is None or any(series is None for series in ours.values()):
                lines.append(Line("2", what, UNMEASURED, "run this workload (W8: --runtime)"))
            else:
                ratios = {api: _ratio(series, theirs) for api, series in ours.items() if series}
                cells = ", ".join(f"{api} {ratio:.2f}x" for api, ratio in ratios.items())
                figures = f"{cells} ({peer} {theirs.median:,.0f} msg/s)"
                lines.append(Line("2", what, _status(min(ratios.values()) > 1.0), figures))
    if not measured.peers:
        lines.append(Line("2", "ahead of every peer", UNMEASURED, "run with --peers all"))
    return lines


def runtime_lines(measured: Measured) -> list[Line]:
    """3: W6 latency with NOTIFY; W8 at 16 against the W3 floor and pgqueuer; W8s against ideal."""
    throughput: dict[tuple[str, str], Series] = measured.runtime.get("throughput") or {}
    latency: dict[str, dict[str, float]] = measured.runtime.get("latency") or {}
    if not throughput:
        return [Line("3", "runtime (W6, W8)", UNMEASURED, "run with --runtime")]
    lines = []
    for api in measured.apis:
        percentiles = latency.get(f"{api} notify")
        if percentiles:
            p50, p99 = percentiles["p50_ms"], percentiles["p99_ms"]
            met = p50 <= W6_P50_MS and p99 <= W6_P99_MS
            text = f"p50 {p50} ms, p99 {p99} ms ({int(percentiles['samples'])} enqueues)"
            lines.append(Line("3", f"W6 {api} with NOTIFY: p50 <= 2 ms, p99 <= 10 ms", _status(met), text))
    floor_name = "raw+schema" if ("W3", "raw+schema") in measured.workloads else "raw"
    floor = measured.workloads.get(("W3", floor_name))
    pgqueuer = throughput.get(("W8 c=16", "pgqueuer"))
    for api in measured.apis:
        series = throughput.get(("W8 c=16", api))
        if series is None:
            continue
        what = f"W8 c=16 {api} >= 0.8 x W3 {floor_name}"
        if floor is None:
            lines.append(Line("3", what, UNMEASURED, "run W3 too"))
        else:
            ratio = series.median / floor.median
            figures = f"{ratio:.2f} ({series.median:,.0f} vs {floor.median:,.0f} msg/s)"
            lines.append(Line("3", what, _status(ratio >= 0.8), figures))
        what = f"W8 c=16 {api} >= 1.5 x pgqueuer's worker"
        if pgqueuer is None:
            lines.append(Line("3", what, UNMEASURED, "run with --peers pgqueuer (or all)"))
        else:
            ratio = _ratio(series, pgqueuer)
            figures = f"{ratio:.2f} ({series.median:,.0f} vs {pgqueuer.median:,.0f} msg/s)"
            lines.append(Line("3", what, _status(ratio >= 1.5), figures))
        sleepy = throughput.get(("W8s c=64", api))
        if sleepy is not None:
            share = sleepy.median / IDEAL_SLEEPY
            figures = f"{sleepy.median:,.0f} jobs/s = {share:.0%} of {IDEAL_SLEEPY:,.0f}"
            lines.append(Line("3", f"W8s c=64 {api} within 10% of ideal", _status(share >= 0.9), figures))
    return lines


def producer_lines(measured: Measured) -> list[Line]:
    """4: W1p, 64 callers on one Producer (tasks, threads), >= 3 x one connection's W1 raw.

    `measured.producers` is pgqrs.bench.producers' result: "raw" (W1, one connection) and each
    API's W1p, by target name.
    """
    floor = measured.producers.get("raw")
    if floor is None:
        return [Line("4", "64 producers >= 3 x W1 raw", UNMEASURED, "run with --bounds (or --producers 64)")]
    lines = []
    for api in measured.apis:
        series = measured.producers.get(api)
        callers = "tasks" if api == "async" else "threads"
        what = f"W1p {api}, 64 {callers} on one Producer >= 3 x W1 raw (1 connection)"
        if series is None:
            lines.append(Line("4", what, UNMEASURED, "run with --bounds (or --producers 64)"))
            continue
        ratio = _ratio(series, floor)
        figures = f"{ratio:.2f} ({series.median:,.0f} vs {floor.median:,.0f} msg/s)"
        lines.append(Line("4", what, _status(ratio >= 3.0), figures))
    return lines


def scale_lines(measured: Measured) -> list[Line]:
    """5: W7 with stale statistics: the rate at 1M pending >= 0.8 x the rate at 10k."""
    sizes = sorted({size for size, _ in measured.scale})
    lines = []
    for api in measured.apis:
        name = f"{api} stale"
        what = f"W7 {api}, stale statistics, 1M pending >= 0.8 x 10k"
        measured_sizes = [size for size in sizes if (size, name) in measured.scale]
        if not measured_sizes:
            lines.append(Line("5", what, UNMEASURED, "run with --scale --stale-statistics"))
            continue
        first, last = measured.scale[(measured_sizes[0], name)], measured.scale[(measured_sizes[-1], name)]
        ratio = _ratio(last, first)
        figures = (
            f"{ratio:.2f} at {measured_sizes[-1]:,} vs {measured_sizes[0]:,} "
            f"({last.median:,.0f} vs {first.median:,.0f} msg/s)"
        )
        if measured_sizes[-1] < 1_000_000 or measured_sizes[0] > 10_000:
            lines.append(Line("5", what, UNMEASURED, f"{figures}; --scale-max 1000000 for the target"))
        else:
            lines.append(Line("5", what, _status(ratio >= 0.8), figures))
    return lines


def memory_lines(measured: Measured) -> list[Line]:
    """5: the runtime draining 1M messages in flat memory: peak RSS at 1M within 10% of 100k."""
    what = "runtime peak RSS draining 1M within 10% of 100k"
    runtime = next((figures for role, figures in measured.memory.items() if role.startswith("runtime")), None)
    if runtime is None:
        return [Line("5", what, UNMEASURED, "run with --memory --memory-max 1000000")]
    peaks = {int(size): int(peak) for size, peak in runtime["peak_rss_kib"].items()}
    smallest, largest = min(peaks), max(peaks)
    growth = peaks[largest] / peaks[smallest] - 1
    figures = (
        f"{growth:+.1%} ({peaks[largest]:,} KiB at {largest:,} vs {peaks[smallest]:,} KiB at {smallest:,})"
    )
    if largest < 1_000_000 or smallest > 100_000:
        return [Line("5", what, UNMEASURED, f"{figures}; --memory-max 1000000 for the target")]
    return [Line("5", what, _status(growth <= 0.10), figures)]


def lines(measured: Measured) -> list[Line]:
    """Every target's line, in the issue's order."""
    return [
        *library_lines(measured),
        *peer_lines(measured),
        *runtime_lines(measured),
        *producer_lines(measured),
        *scale_lines(measured),
        *memory_lines(measured),
    ]


def show(found: Sequence[Line]) -> None:
    """Print the lines, then how many targets are met."""
    print("\nIssue 18's targets")
    for line in found:
        print("  " + line.text())
    counts = {status: sum(line.status == status for line in found) for status in (MET, NOT_MET, UNMEASURED)}
    print(f"  -- {counts[MET]} met, {counts[NOT_MET]} not met, {counts[UNMEASURED]} not measured")


def peer_table(measured: Measured) -> tuple[list[str], list[list[str]]]:
    """Return the peer table: per workload, pgqrs's rate by API, then each peer's rate and how
    many times faster pgqrs's slower API is (n/a: the peer cannot run it, see `peer_reasons`)."""
    combined = _peer_series(measured)
    labels = [*LIBRARY_WORKLOADS, *dict.fromkeys(label for label, _ in combined if label.startswith("W8"))]
    header = ["workload", *(f"{api} msg/s" for api in measured.apis)]
    header += [f"{peer} msg/s (pgqrs x)" for peer in measured.peers]
    rows = []
    for label in labels:
        ours = [combined.get((label, api)) for api in measured.apis]
        if all(series is None for series in ours):
            continue
        row = [label, *(f"{series.median:,.0f}" if series else "-" for series in ours)]
        slowest = min((series.median for series in ours if series), default=0.0)
        for peer, lacks in measured.peers.items():
            theirs = combined.get((label, peer))
            if theirs is not None:
                row.append(f"{theirs.median:,.0f} ({slowest / theirs.median:.1f}x)")
            else:
                row.append("n/a" if _workload(label) in lacks else "-")
        rows.append(row)
    return header, rows


def peer_reasons(measured: Measured) -> list[str]:
    """Return why each peer lacks the workloads marked n/a in the peer table."""
    return [
        f"{peer} {workload}: {why}"
        for peer, lacks in measured.peers.items()
        for workload, why in lacks.items()
    ]

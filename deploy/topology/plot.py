"""Plot the fleet's figures: throughput and CPU shares against the number of worker processes.

    python plot.py results.jsonl scaling.png

Needs matplotlib (run.sh installs it in the venv for the full run; pgqrs does not depend on it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(source: str, image: str) -> None:
    results = [json.loads(line) for line in Path(source).read_text().splitlines() if line.strip()]
    fleet = [result for result in results if result["kind"] == "fleet"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for handler, style in (("noop", "o-"), ("sleep5ms", "s--")):
        runs: list[dict[str, Any]] = sorted(
            (result for result in fleet if result["handler"] == handler), key=lambda result: result["workers"]
        )
        if not runs:
            continue
        counts = [run["workers"] for run in runs]
        left.plot(counts, [run["throughput"] for run in runs], style, label=f"{handler} handler")
        cores = [run["cores"] * run["wall"] for run in runs]
        for kind, color in (("server", "tab:blue"), ("workers", "tab:orange"), ("machine", "tab:gray")):
            shares = [100 * run["cpu"][kind] / total for run, total in zip(runs, cores, strict=True)]
            label = f"{kind} ({handler})" if kind != "machine" else f"whole machine ({handler})"
            right.plot(
                counts, shares, style, color=color, label=label, alpha=0.9 if handler == "noop" else 0.5
            )
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks([1, 2, 4, 8, 16], ["1", "2", "4", "8", "16"])
        axis.set_xlabel("pgqrs worker run processes (10 handlers each)")
        axis.grid(alpha=0.3)
    left.set_ylabel("messages/s (enqueue + process + archive)")
    left.set_title("Throughput, one PostgreSQL 15 behind PgBouncer")
    left.legend()
    left.set_ylim(bottom=0)
    right.set_ylabel("% of the machine's 2 cores")
    right.set_title("CPU during the run")
    right.set_ylim(0, 100)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(image, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""pgqrs benchmark harness (issue 7): pgqrs against a hand-written raw-SQL queue, interleaved.

    python -m benchmarks                     every workload, both APIs, 3 repetitions
    python -m benchmarks --smoke             tiny sizes, checks delivery (CI)
    python -m benchmarks --scale --scale-max 1000000 --memory --memory-max 1000000

`run(argv)` is the entry point a CLI calls (``pgqrs bench`` passes its arguments through).
"""

from __future__ import annotations

from collections.abc import Sequence


def run(argv: Sequence[str] | None = None) -> int:
    """Run the harness with command-line style arguments; return the process exit code."""
    from benchmarks import runner

    return runner.run(argv)


__all__ = ["run"]

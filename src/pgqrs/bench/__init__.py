"""pgqrs benchmark harness: pgqrs against a hand-written raw-SQL queue, interleaved.

    pgqrs bench                              every workload, both APIs, 3 repetitions
    pgqrs bench --smoke                      tiny sizes, checks delivery
    pgqrs bench --scale --scale-max 1000000 --memory --memory-max 1000000

`python -m pgqrs.bench` (and `python -m benchmarks` in the repository) take the same arguments.

`run(argv)` is the entry point a CLI calls (``pgqrs bench`` passes its arguments through).
"""

from __future__ import annotations

from collections.abc import Sequence


def run(argv: Sequence[str] | None = None) -> int:
    """Run the harness with command-line style arguments; return the process exit code."""
    from pgqrs.bench import runner

    return runner.run(argv)


__all__ = ["run"]

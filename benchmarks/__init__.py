"""The benchmark harness lives in `pgqrs.bench` (shipped, so `pgqrs bench` works anywhere).

This folder keeps `python -m benchmarks` for the repository, the saved results (`results/`) and
the measured change proposals (`proposals/`). See docs/performance.md.
"""

from __future__ import annotations

from pgqrs.bench import run

__all__ = ["run"]

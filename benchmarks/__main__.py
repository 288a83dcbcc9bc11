"""``python -m benchmarks``: the same as ``pgqrs bench`` (see `pgqrs.bench.options` for the flags)."""

from __future__ import annotations

import sys

from pgqrs.bench import run

if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))

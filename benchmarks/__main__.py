"""``python -m benchmarks``: see `benchmarks.options` for the flags."""

from __future__ import annotations

import sys

from benchmarks import run

if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))

"""``python -m pgqrs.bench``: the harness without the CLI (same arguments as ``pgqrs bench``)."""

from __future__ import annotations

import sys

from pgqrs.bench import run

if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))

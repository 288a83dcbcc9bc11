"""`python -m pgqrs`: the same as the `pgqrs` command."""

from __future__ import annotations

import sys

from pgqrs.cli import main

if __name__ == "__main__":
    sys.exit(main())

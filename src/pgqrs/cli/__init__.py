"""The `pgqrs` command line: a thin shell over the blocking API (`pgqrs.sync`).

Run ``pgqrs --help``; docs/cli.md describes every command, the output formats and exit codes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(arguments: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (the `pgqrs` console script)."""
    try:
        from pgqrs.cli import app
    except ImportError as error:
        if error.name not in ("typer", "rich"):
            raise
        sys.stderr.write(f"pgqrs: error: the command line needs {error.name}: pip install 'pgqrs-py[cli]'\n")
        return 1
    return app.run(arguments)


__all__ = ["main"]

"""Make an importable copy of pgqrs under another package name, to measure a change side by side.

    python -m pgqrs.bench.variant /tmp/pgqrs-exp pgqrs_exp [--source src/pgqrs] [--patch change.diff]
    PYTHONPATH=/tmp/pgqrs-exp pgqrs bench --compare pgqrs_exp

The copy's own imports are renamed, so the unmodified `pgqrs` and the variant load in one process
and the harness interleaves them in the same run. A patch (made against src/pgqrs, paths
relative to that folder, e.g. ``git diff --relative=src/pgqrs``) is applied to the copy first.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

_IMPORT = re.compile(r"^(\s*(?:from|import) )pgqrs\b", re.MULTILINE)
_RESOURCE = re.compile(r"""files\(["']pgqrs["']\)""")
_DOTTED = re.compile(r"\bpgqrs\.(_async|_sync|sync|errors|models|tables|config)\b")


def make(destination: Path, name: str, source: Path, patch: Path | None = None) -> Path:
    """Copy `source` to destination/name, apply `patch`, rename its imports; return the package path."""
    package = destination / name
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__", "cli", "bench", "demo.py"))
    if patch is not None:
        subprocess.run(["patch", "-p1", "-s", "-d", str(package), "-i", str(patch.resolve())], check=True)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        text = _IMPORT.sub(rf"\g<1>{name}", text)
        text = _RESOURCE.sub(f'files("{name}")', text)
        text = _DOTTED.sub(rf"{name}.\g<1>", text)
        path.write_text(text, encoding="utf-8")
    return package


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m pgqrs.bench.variant", description=__doc__)
    parser.add_argument("destination", type=Path, help="folder to put on PYTHONPATH")
    parser.add_argument("name", help="package name of the copy, e.g. pgqrs_exp")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--patch", type=Path, help="unified diff to apply to the copy (-p1, from src/pgqrs)")
    arguments = parser.parse_args(argv)
    print(make(arguments.destination, arguments.name, arguments.source, arguments.patch))
    return 0


if __name__ == "__main__":
    sys.exit(main())

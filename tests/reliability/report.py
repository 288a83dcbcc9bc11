"""Render the figures of a run (PGQRS_RELIABILITY_REPORT JSON lines) as Markdown tables.

    python -m tests.reliability.report reliability-full.jsonl > figures.md

docs/reliability.md quotes these tables from the last full run.
"""

from __future__ import annotations

import json
import sys
from typing import Any

VERDICT = (
    "messages",
    "faults",
    "lost",
    "unexpected",
    "double_acks",
    "overlapping_leases",
    "acks_from_non_holders",
)
OTHER_SKIPPED = {"test", "scale", "enqueued", "examples"}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def render(records: list[dict[str, Any]]) -> str:
    """Return one table of the checker's verdicts and one line of other figures per test."""
    lines = [
        "| test | seconds | " + " | ".join(VERDICT) + " |",
        "|" + " --- |" * (len(VERDICT) + 2),
    ]
    for record in records:
        if "lost" not in record:
            continue
        cells = [record["test"], record["seconds"], *(record.get(key, "") for key in VERDICT)]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines.append("")
    for record in records:
        extra = {
            key: value for key, value in record.items() if key not in OTHER_SKIPPED and key not in VERDICT
        }
        lines.append(
            f"- `{record['test']}`: " + ", ".join(f"{key}={_cell(value)}" for key, value in extra.items())
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        records = [json.loads(line) for line in file if line.strip()]
    sys.stdout.write(render(records))


if __name__ == "__main__":
    main()

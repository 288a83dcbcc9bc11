"""The README's command line walkthrough runs exactly as written, and prints what it shows.

Every ``$ `` line of the bash block between ``<!-- walkthrough -->`` and ``<!-- /walkthrough -->``
runs in bash (pipefail) with the installed `pgqrs` first on PATH and PGQRS_DSN / PGQRS_SCHEMA
pointing at the test's schema. The output the README shows under a command must be what the
command printed, up to the schema name and the timestamps (``...`` ends a shown prefix).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import runner

README = Path(__file__).resolve().parents[2] / "README.md"
# What the seed's walkthrough covers: each must appear in a command.
REQUIRED = [
    "pgqrs install",
    "pgqrs verify",
    "pgqrs queue create",
    "pgqrs message send",
    "--delay",
    "pgqrs message dequeue",
    "pgqrs message delete",
    "pgqrs archive list",
    "--archive",
    "pgqrs queue metrics",
]
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z")


def walkthrough() -> list[tuple[str, list[str]]]:
    """Return each command of the walkthrough with the output lines shown under it."""
    text = README.read_text()
    section = text.split("<!-- walkthrough -->", 1)[1].split("<!-- /walkthrough -->", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README walkthrough has no ```bash block"
    steps: list[tuple[str, list[str]]] = []
    for block in blocks:
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps and line and not line.startswith("#"):
                steps[-1][1].append(line)
            elif not line and steps:
                steps.append(("", []))  # a blank line ends the shown output
    return [(command, shown) for command, shown in steps if command]


def normalized(text: str, schema: str) -> list[str]:
    return _TIMESTAMP.sub("<time>", text.replace(schema, "public")).splitlines()


def test_walkthrough_runs_as_written(dsn: str, schema: str, tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.fail("the README walkthrough uses jq: install it (apt-get install jq)")
    environment = runner.clean_environment()
    bin_directory = str(Path(runner.executable()).parent)
    environment.update(
        PGQRS_DSN=dsn, PGQRS_SCHEMA=schema, PATH=bin_directory + os.pathsep + environment["PATH"]
    )
    steps = walkthrough()
    commands = "\n".join(command for command, _shown in steps)
    for required in REQUIRED:
        assert required in commands, f"the walkthrough does not show {required!r}"
    for command, shown in steps:
        completed = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tmp_path,
            timeout=runner.TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, f"$ {command}\n{completed.stderr}"
        if not shown:
            continue
        printed = normalized(completed.stdout + completed.stderr, schema)
        expected = normalized("\n".join(shown), schema)
        if "..." in expected:
            expected = expected[: expected.index("...")]
            printed = printed[: len(expected)]
        assert printed == expected, f"$ {command}"

"""Run the installed `pgqrs` script as a subprocess and check what every run must satisfy.

Every run is checked for the rules that hold whatever the command: JSON output parses, table
lines fit in 80 columns (COLUMNS=80), and a failure is one line on stderr without a traceback
(unless the log level asks for one).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import functools
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

WIDTH = 80
TIMEOUT_SECONDS = 120
# Each run is a new Python process (~0.5 s of imports): independent runs go in parallel.
PARALLEL_RUNS = 6
# Runs a program with SIGINT at its default disposition: a shell that started the tests in the
# background leaves SIGINT ignored, and the child would inherit that and never see Ctrl-C.
_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def executable() -> str:
    """Return the path of the installed `pgqrs` console script."""
    beside_python = Path(sys.executable).with_name("pgqrs")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("pgqrs")
    if found is None:
        pytest.fail("the pgqrs console script is not installed: pip install -e '.[dev]'")
    return found


def clean_environment() -> dict[str, str]:
    """Return the test process's environment without any PGQRS_* setting, 80 columns wide."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PGQRS_")}
    environment.update(COLUMNS=str(WIDTH), LINES="24", PYTHONUNBUFFERED="1")
    environment.pop("TYPER_STANDARD_TRACEBACK", None)
    return environment


@dataclasses.dataclass(frozen=True)
class Result:
    """What one run of `pgqrs` produced."""

    arguments: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Return stdout parsed as one JSON document."""
        return json.loads(self.stdout)

    @property
    def error(self) -> str:
        """Return the single error line on stderr."""
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {self.stderr!r}"
        assert lines[0].startswith("pgqrs: error: "), lines[0]
        return lines[0]

    def expect(self, code: int) -> Result:
        """Assert the exit code (showing the output when it differs) and return self."""
        assert self.code == code, f"pgqrs {' '.join(self.arguments)} exited {self.code}: {self.stderr}"
        return self


@dataclasses.dataclass
class Cli:
    """Runs `pgqrs` with a given environment and working directory."""

    environment: dict[str, str]
    cwd: Path

    def with_environment(self, **changes: str | None) -> Cli:
        """Return a runner whose environment has `changes` applied (None removes a variable)."""
        environment = dict(self.environment)
        for key, value in changes.items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return Cli(environment, self.cwd)

    def run(
        self,
        *arguments: str,
        stdin: str | bytes = b"",
        environment: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        rules: bool = True,
    ) -> Result:
        """Run `pgqrs *arguments` (stdin a pipe, never a terminal); `rules`: check_rules()."""
        completed = subprocess.run(
            [executable(), *arguments],
            input=stdin.encode() if isinstance(stdin, str) else stdin,
            capture_output=True,
            env={**self.environment, **(environment or {})},
            cwd=cwd or self.cwd,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        result = Result(
            tuple(arguments),
            completed.returncode,
            completed.stdout.decode("utf-8"),
            completed.stderr.decode("utf-8"),
        )
        if rules:
            check_rules(result)
        return result

    @contextlib.contextmanager
    def started(self, *arguments: str) -> Iterator[Running]:
        """Start `pgqrs *arguments` in the background (stdin, stdout, stderr pipes); kill it on exit."""
        process = subprocess.Popen(
            [sys.executable, "-c", _WITH_DEFAULT_SIGINT, executable(), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.environment,
            cwd=self.cwd,
        )
        try:
            yield Running(tuple(arguments), process)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

    def many(self, *calls: Sequence[str], rules: bool = True) -> list[Result]:
        """Run independent commands in parallel; return their results in order."""
        return parallel(*(functools.partial(self.run, *arguments, rules=rules) for arguments in calls))


@dataclasses.dataclass(frozen=True)
class Running:
    """A `pgqrs` process running in the background (see `Cli.started`)."""

    arguments: tuple[str, ...]
    process: subprocess.Popen[bytes]
    # What `wait_for_stderr` has read so far (the result's stderr starts with it).
    stderr_read: bytearray = dataclasses.field(default_factory=bytearray)

    def feed(self, text: str) -> None:
        """Write `text` to its stdin and wait until it has read every byte of it."""
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()
        wait_until(lambda: _unread(self.process.stdin) == 0, "pgqrs to read its input")

    def wait_for_output(self) -> None:
        """Wait until it has written to stdout (and leave what it wrote unread)."""
        stdout = self.process.stdout
        assert stdout is not None
        wait_until(lambda: bool(select.select([stdout], [], [], 0)[0]), "pgqrs to write its result")

    def wait_for_stderr(self, text: str) -> None:
        """Read its stderr until `text` has appeared (the result's stderr still holds it)."""
        stderr = self.process.stderr
        assert stderr is not None

        def appeared() -> bool:
            if select.select([stderr], [], [], 0)[0]:
                self.stderr_read.extend(os.read(stderr.fileno(), 65536) or b"")
            return text in self.stderr_read.decode(errors="replace")

        wait_until(appeared, f"{text!r} on stderr")

    def interrupt(self, rules: bool = True) -> Result:
        """Send SIGINT (Ctrl-C), wait for the exit, and return the result; `rules`: check_rules()."""
        return self.signal(signal.SIGINT, rules)

    def signal(self, number: int, rules: bool = True) -> Result:
        """Send signal `number`, wait for the exit, and return the result; `rules`: check_rules()."""
        self.process.send_signal(number)
        return self.finish(rules)

    def finish(self, rules: bool = True) -> Result:
        """Wait for the exit and return the result; `rules`: check_rules()."""
        stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
        stderr = bytes(self.stderr_read) + stderr
        result = Result(self.arguments, self.process.returncode, stdout.decode(), stderr.decode())
        if rules:
            check_rules(result)
        return result


def _unread(pipe: Any) -> int:
    """Return how many bytes written to `pipe` the reader has not read yet (Linux)."""
    return int(struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0])


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail after TIMEOUT_SECONDS saying what was awaited."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def parallel(*thunks: Callable[[], Result]) -> list[Result]:
    """Call independent runs in parallel; return their results in order."""
    with concurrent.futures.ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        return list(pool.map(lambda thunk: thunk(), thunks))


def check_rules(result: Result) -> None:
    """Assert what holds for every run: valid JSON, 80 columns, one-line errors."""
    arguments = result.arguments
    verbose = any(level in arguments for level in ("info", "debug", "trace"))
    if "--format" in arguments and "json" in arguments and result.stdout:
        json.loads(result.stdout)  # one valid JSON document, nothing else
    elif "--print-sql" not in arguments and "--help" not in arguments:
        too_wide = [line for line in result.stdout.splitlines() if len(line) > WIDTH]
        assert not too_wide, f"lines wider than {WIDTH} columns: {too_wide}"
    if not verbose:
        assert "Traceback" not in result.stderr, result.stderr
    if result.code != 0 and not verbose:
        assert result.error  # exactly one line, "pgqrs: error: ..."

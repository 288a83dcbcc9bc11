"""Run `pgqrs` with its stderr on a terminal (a pseudo-terminal), as in an interactive shell."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Iterator

from tests.cli import runner


@dataclasses.dataclass(frozen=True)
class Terminal:
    """Runs `pgqrs` with its stderr on a terminal (a pseudo-terminal, 80x24), stdout a pipe."""

    cli: runner.Cli

    @contextlib.contextmanager
    def started(self, *arguments: str) -> Iterator[OnTerminal]:
        """Start `pgqrs *arguments` in the background; kill it on exit."""
        controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, runner.WIDTH, 0, 0))
        process = subprocess.Popen(
            [runner.executable(), *arguments],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=self.cli.environment,
            cwd=self.cli.cwd,
        )
        os.close(terminal)
        try:
            yield OnTerminal(tuple(arguments), process, controller)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
            os.close(controller)


@dataclasses.dataclass(frozen=True)
class OnTerminal:
    """A `pgqrs` process writing its stderr to a terminal (see `Terminal.started`)."""

    arguments: tuple[str, ...]
    process: subprocess.Popen[bytes]
    controller: int
    screen: bytearray = dataclasses.field(default_factory=bytearray)

    def _read(self, timeout: float) -> bool:
        """Add what the terminal shows within `timeout` to `screen`; False once it is closed."""
        if not select.select([self.controller], [], [], timeout)[0]:
            return True
        try:
            chunk = os.read(self.controller, 65536)
        except OSError:  # EIO: the process and its children have closed the terminal
            return False
        self.screen.extend(chunk)
        return bool(chunk)

    def wait_for_screen(self, pattern: re.Pattern[str]) -> None:
        """Read the terminal until `pattern` appears on it."""

        def shown() -> bool:
            self._read(0.05)
            return pattern.search(self.screen.decode(errors="replace")) is not None

        runner.wait_until(shown, f"{pattern.pattern!r} on the terminal")

    def finish(self) -> runner.Result:
        """Wait for the exit; return the result (stderr: everything the terminal showed)."""
        deadline = time.monotonic() + runner.TIMEOUT_SECONDS
        while self._read(0.1) and time.monotonic() < deadline:
            pass
        stdout, _ = self.process.communicate(timeout=runner.TIMEOUT_SECONDS)
        return runner.Result(self.arguments, self.process.returncode, stdout.decode(), self.screen.decode())

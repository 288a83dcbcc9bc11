"""Peers (--peers pgqueuer): another queue library measured by the same workloads, in the same run.

A peer runs in a virtual environment of its own (created once under the cache folder, with the
peer installed from the package index), in a child process that stays up for the whole run and
takes commands as JSON lines: prepare a workload (untimed), then run it. The harness times the
run from its side (the pipe adds well under a millisecond) and checks delivery from the peer's
report. A peer's workload is one slice: with step interleaving it alternates with the other
targets run by run, not slice by slice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pgqrs.bench.environment import ChildFailed, Environment, expect
from pgqrs.bench.targets import CONSUME, Target

# peer name -> (requirements, worker script in this folder, workloads it has)
PEERS: dict[str, tuple[tuple[str, ...], str, frozenset[str]]] = {
    "pgqueuer": (
        ("pgqueuer", "asyncpg"),
        "peer_pgqueuer.py",
        frozenset({"W1", "W2", "W3", "W4", "W5", "W8"}),
    ),
}


def cache_folder() -> Path:
    """Where peer environments live: $PGQRS_BENCH_PEERS, else ~/.cache/pgqrs-bench/peers."""
    configured = os.environ.get("PGQRS_BENCH_PEERS")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pgqrs-bench" / "peers"


def interpreter(name: str) -> Path:
    """Return the Python of the peer's environment, creating the environment the first time."""
    requirements = PEERS[name][0]
    folder = cache_folder() / name
    python = folder / "bin" / "python"
    marker = folder / "installed.txt"
    if not marker.exists() or marker.read_text(encoding="utf-8") != " ".join(requirements):
        print(f"peer {name}: installing {' '.join(requirements)} in {folder}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *requirements], check=True)
        marker.write_text(" ".join(requirements), encoding="utf-8")
    return python


class PeerTarget(Target):
    """A peer library driven through its worker process."""

    def __init__(self, environment: Environment, name: str) -> None:
        super().__init__(environment)
        self.name = name
        self.workloads = PEERS[name][2]
        script = Path(__file__).with_name(PEERS[name][1])
        self.process = subprocess.Popen(
            [str(interpreter(name)), str(script), environment.dsn, environment.schema],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.version = str(self._read().get("version", "?"))
        self.count = 0
        self.reply: dict[str, Any] = {}

    def takes(self, workload: str) -> bool:
        return workload in self.workloads

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise ChildFailed(f"peer {self.name} exited with {self.process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def prepare(self, workload: str, count: int) -> None:
        self.runs += 1
        self.count = count
        self._ask(command="prepare", workload=workload, count=count)
        self.environment.quiesce()

    def steps(self, workload: str, limit: int | None = None) -> Iterator[None]:
        self.reply = self._ask(command="run", workload=workload)
        yield

    def verify(self, workload: str, count: int, limit: int | None = None) -> None:
        what = f"{self.name} {workload}"
        reply = self.reply
        if workload in CONSUME:
            expect(f"{what}: messages delivered", reply["seen"], count)
            expect(f"{what}: distinct messages delivered", reply["distinct"], count)
            expect(f"{what}: messages left", reply["left"], 0)
        else:
            expect(f"{what}: messages stored", reply["left"], count)

    def run_runtime(self, count: int, concurrency: int, sleep: float) -> float:
        """W8: fill `count` jobs, drain them with the peer's own worker; return the seconds."""
        self.prepare("W8", count)
        self.reply = self._ask(command="runtime", count=count, concurrency=concurrency, sleep=sleep)
        self.verify("W8", count)
        return float(self.reply["seconds"])

    def run_parallel(self, count: int, processes: int) -> float:
        self.prepare("W5", count)
        self.reply = self._ask(command="run", workload="W5", processes=processes)
        self.verify("W5", count)
        return float(self.reply["seconds"])

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # end of commands: the worker closes its connection and exits
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        super().close()

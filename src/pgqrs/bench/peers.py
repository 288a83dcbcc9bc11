"""Peers (--peers NAMES|all): other queue libraries measured by the same workloads, in the same run.

pgqueuer, procrastinate, pgmq (its SQL installed as plain SQL) and the upstream Rust project's
Python bindings (`pgqrs` 0.15 on the package index: the same import name as this project, which
is why every peer lives apart). A peer runs in a virtual environment of its own (created once
under the cache folder, with the peer installed from the package index), on a database of its
own (pgqueuer: a schema), in a child process that stays up for the whole run and
takes commands as JSON lines: prepare a workload (untimed), then run it. The harness times the
run from its side (the pipe adds well under a millisecond) and checks delivery from the peer's
report. A peer's workload is one slice: with step interleaving it alternates with the other
targets run by run, not slice by slice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib import parse

from psycopg import conninfo, sql

from pgqrs.bench.environment import ChildFailed, Environment, connect, expect
from pgqrs.bench.targets import CONSUME, Target


@dataclasses.dataclass(frozen=True)
class Peer:
    """A peer library: how to install it, its worker script, and why it lacks a workload."""

    requirements: tuple[str, ...]
    script: str
    # Workloads it cannot run, with the reason its row prints.
    lacks: dict[str, str]
    # True: the harness creates a database for it (its SQL names fixed schemas or uses the
    # search path's first one); False: a schema of its own, given on the command line.
    own_database: bool = True

    def reason(self, workload: str) -> str | None:
        """Return why the peer does not run `workload`, or None when it does."""
        return self.lacks.get(workload)


NO_BATCH_FETCH = "no batch fetch: a worker takes one job per query (see W4 and W8)"
PEERS: dict[str, Peer] = {
    "pgqueuer": Peer(
        ("pgqueuer", "asyncpg"),
        "peer_pgqueuer.py",
        {"W3a": "no archive: a finished job is deleted (its log row is no message archive)"},
        own_database=False,
    ),
    "procrastinate": Peer(
        ("procrastinate>=3,<4", "psycopg[binary]"),
        "peer_procrastinate.py",
        {"W3": NO_BATCH_FETCH, "W3a": NO_BATCH_FETCH, "W5": NO_BATCH_FETCH},
    ),
    "pgmq": Peer(
        ("pgmq>=1.1.4,<2",),
        "peer_pgmq.py",
        {"W8": "no worker runtime: pgmq is SQL functions and a client"},
    ),
    "pgqrs-rust": Peer(
        ("pgqrs>=0.15,<0.16",),
        "peer_pgqrs_rust.py",
        {"W8": "no drain mode: its consume loop runs until cancelled"},
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
    requirements = PEERS[name].requirements
    folder = cache_folder() / name
    python = folder / "bin" / "python"
    marker = folder / "installed.txt"
    if not marker.exists() or marker.read_text(encoding="utf-8") != " ".join(requirements):
        print(f"peer {name}: installing {' '.join(requirements)} in {folder}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        pip = [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
        subprocess.run([*pip, *requirements], check=True)
        marker.write_text(" ".join(requirements), encoding="utf-8")
    return python


def url(dsn: str, dbname: str) -> str:
    """Return `dsn` for database `dbname` as a URL (the Rust bindings take no key=value form)."""
    params = {key: str(value) for key, value in conninfo.conninfo_to_dict(dsn).items()}
    params.pop("dbname", None)
    user = parse.quote(params.pop("user", ""), safe="")
    password = params.pop("password", None)
    credentials = f"{user}:{parse.quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = params.pop("host", "")
    location = f"[{host}]" if ":" in host else parse.quote(host, safe="")
    port = params.pop("port", None)
    query = f"?{parse.urlencode(params)}" if params else ""
    return f"postgresql://{credentials}{location}{':' + port if port else ''}/{dbname}{query}"


class Database:
    """A database of its own for a peer, created on the benchmark server and dropped by `close()`."""

    def __init__(self, environment: Environment, peer: str) -> None:
        self.environment = environment
        self.name = f"pgqrs_bench_{peer.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        environment.connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.dsn = url(environment.dsn, self.name)

    def close(self) -> None:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
        with connect(self.environment.dsn) as connection:  # waits for a restarting server
            connection.execute(drop)


class PeerTarget(Target):
    """A peer library driven through its worker process."""

    def __init__(self, environment: Environment, name: str) -> None:
        super().__init__(environment)
        self.name = name
        self.peer = PEERS[name]
        self.database: Database | None = None
        script = Path(__file__).with_name(self.peer.script)
        try:
            self.database = Database(environment, name) if self.peer.own_database else None
            dsn = self.database.dsn if self.database else environment.dsn
            self.command = [str(interpreter(name)), str(script), dsn, environment.schema]
            self._start()
        except BaseException:  # a peer that cannot start leaves no process, database or schema
            if hasattr(self, "process"):
                self.process.kill()
                self.process.wait()
            self._drop_database()
            environment.close()
            raise
        self.count = 0
        self.reply: dict[str, Any] = {}

    def _start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.version = str(self._read().get("version", "?"))

    def recover(self) -> None:
        """After a server restart: a new worker (the old one's connections died with the server)."""
        self._stop()
        self._start()

    def takes(self, workload: str) -> bool:
        return self.peer.reason(workload) is None and workload != "W7"

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise ChildFailed(f"peer {self.name} exited with {self.process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise ChildFailed(f"peer {self.name}: {reply['error']}")
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
            if workload == "W3a":
                expect(f"{what}: messages archived", reply["archived"], count)
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
        self._stop()
        self._drop_database()
        super().close()

    def _stop(self) -> None:
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

    def _drop_database(self) -> None:
        if self.database is not None:
            self.database.close()
            self.database = None

"""Parent-side helpers for the fault suite: sizes, worker processes, waits, the server itself."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from pgqrs import config as config_module
from tests import support
from tests.reliability import app_worker, checker

REPO_ROOT = Path(__file__).resolve().parents[2]
SCALE_VARIABLE = "PGQRS_RELIABILITY_SCALE"
# The PGQRS_* variables a worker process inherits: the test suite's own. The others
# (PGQRS_DSN, PGQRS_POLL_INTERVAL, PGQRS_CONFIG_FILE...) would change its config behind the
# test's back.
KEPT_PREFIXES = ("PGQRS_TEST_", "PGQRS_RELIABILITY_")


@dataclasses.dataclass(frozen=True)
class Scale:
    """Sizes of the slow scenarios: `ci` keeps the whole suite to a few minutes on 2 cores."""

    name: str
    churn_messages: int
    churn_consumers: int
    kill_messages: int
    restart_messages: int
    proxy_messages: int
    xmin_messages: int
    skew_messages: int
    hypothesis_examples: int
    install_rounds: int
    runtime_messages: int  # worker-runtime scenarios: messages per run
    runtime_rounds: int  # worker-runtime scenarios: repeated faults (slow handlers, wake-ups)
    listener_kills: int  # the runtime's LISTEN connections terminated, one after the other


SCALES = {
    "ci": Scale("ci", 4_000, 8, 800, 3_000, 600, 3_000, 600, 60, 2, 300, 3, 10),
    "full": Scale("full", 50_000, 8, 10_000, 20_000, 3_000, 20_000, 3_000, 500, 10, 3_000, 10, 30),
}


def current_scale() -> Scale:
    name = os.environ.get(SCALE_VARIABLE, "ci")
    if name not in SCALES:
        raise ValueError(f"{SCALE_VARIABLE} must be one of {', '.join(SCALES)}, got {name!r}")
    return SCALES[name]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll `predicate` until true; return the seconds it took; fail the test after `timeout`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


# Databases ---------------------------------------------------------------------------------


def is_pooled(dsn: str) -> bool:
    return config_module.Config.from_dsn(dsn).behind_transaction_pooler


def derive_direct_dsn(dsn: str) -> str:
    """Return a DSN reaching PostgreSQL itself: PGQRS_TEST_DIRECT_DSN, or the pooler's 5432."""
    explicit = os.environ.get("PGQRS_TEST_DIRECT_DSN")
    if explicit:
        return explicit
    if not is_pooled(dsn):
        return dsn
    return conninfo.make_conninfo(dsn, port="5432")


def host_and_port(dsn: str) -> tuple[str, int]:
    settings = conninfo.conninfo_to_dict(dsn)
    return str(settings.get("host") or "127.0.0.1"), int(str(settings.get("port") or 5432))


def count_messages(dsn: str, schema: str, queue_id: int) -> int:
    return support.count(dsn, f'SELECT count(*) FROM "{schema}".pgqrs_messages WHERE queue_id = %s', queue_id)


def backend_pids(direct_dsn: str, schema: str) -> list[int]:
    """Return the server pids of client backends whose last statement touched `schema`."""
    with support.connect(direct_dsn) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND position(%s in query) > 0",
            (f'"{schema}".',),
        ).fetchall()
    return [row[0] for row in rows]


def terminate(direct_dsn: str, pids: list[int]) -> int:
    """Terminate these backends (pg_terminate_backend); return how many were signalled."""
    if not pids:
        return 0
    with support.connect(direct_dsn) as connection:
        rows = connection.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest(%s::int[]) AS pid", (pids,)
        ).fetchone()
    return int(rows[0]) if rows else 0


class Server:
    """The local PostgreSQL cluster behind a DSN, stopped and started with pg_ctlcluster."""

    def __init__(self, direct_dsn: str) -> None:
        self.dsn = direct_dsn
        self.host, self.port = host_and_port(direct_dsn)
        self.cluster = self._find_cluster()

    def _find_cluster(self) -> tuple[str, str]:
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            # A Unix socket may be an embedded server on the same port as a cluster: never guess.
            raise LookupError(f"the server at {self.host} is not a local TCP cluster")
        if not shutil.which("pg_lsclusters") or not shutil.which("pg_ctlcluster"):
            raise LookupError("pg_lsclusters / pg_ctlcluster are not installed")
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] == str(self.port):
                return fields[0], fields[1]
        raise LookupError(f"no local cluster listens on port {self.port}")

    def _ctl(self, action: str, *extra: str) -> None:
        version, name = self.cluster
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *extra],
            capture_output=True,
            check=True,
            timeout=120,
        )

    def stop_immediate(self) -> None:
        self._ctl("stop", "-m", "immediate")

    def start(self) -> None:
        self._ctl("start")

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.dsn, connect_timeout=2, autocommit=True) as connection:
                connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def ensure_running(self, timeout: float = 120) -> None:
        """Start the server unless it answers; wait (bounded) until it does."""
        if self.answers():
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("start")  # fails when already starting: the wait below covers that
        wait_until(self.answers, timeout, "PostgreSQL to answer again", interval=0.2)


# Worker processes --------------------------------------------------------------------------


class Workers:
    """Start worker processes (tests/reliability/worker.py) and always clean them up."""

    def __init__(self, directory: Path, dsn: str, schema: str) -> None:
        self.directory = directory
        self.dsn = dsn
        self.schema = schema
        self.stop_file = directory / "stop"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.events: list[Path] = []
        self.recorders: list[checker.Recorder] = []
        self.apps: set[str] = set()  # the worker-runtime processes
        self._exits: checker.Recorder | None = None

    def start(
        self, role: str, name: str, prefix: list[str] | None = None, **spec: Any
    ) -> subprocess.Popen[bytes]:
        """Start a worker; `prefix` wraps the command (e.g. faketime)."""
        events = self.directory / f"{name}.jsonl"
        self.events.append(events)
        full_spec = {
            "role": role,
            "name": name,
            "dsn": self.dsn,
            "schema": self.schema,
            "events": str(events),
            "stop_file": str(self.stop_file),
            "ready_file": str(self.directory / f"{name}.ready"),
            **spec,
        }
        command = [*(prefix or []), sys.executable, "-m", "tests.reliability.worker", json.dumps(full_spec)]
        return self._launch(name, command, {})

    def start_app(
        self,
        name: str,
        queue: str,
        runtime: str = "async",
        config: dict[str, Any] | None = None,
        dsn: str | None = None,
        **spec: Any,
    ) -> subprocess.Popen[bytes]:
        """Start a worker-runtime process (tests/reliability/app_worker.py) working `queue`.

        `config` holds Config settings (given through PGQRS_* variables, as to `pgqrs worker
        run`); `spec` the handler's behaviour; `dsn` replaces the test's DSN. Its connections
        carry the application name `application_name(name)`.
        """
        events = self.directory / f"{name}.jsonl"
        self.events.append(events)
        full_spec = {"name": name, "queue": queue, "runtime": runtime, "events": str(events), **spec}
        dsn = conninfo.make_conninfo(dsn or self.dsn, application_name=self.application_name(name))
        settings = dict(config or {})
        if settings.get("listen_dsn"):
            settings["listen_dsn"] = conninfo.make_conninfo(
                settings["listen_dsn"], application_name=self.application_name(name)
            )
        variables = app_worker.environment(full_spec, dsn, self.schema, settings)
        self.apps.add(name)
        return self._launch(name, app_worker.command(full_spec), variables)

    def application_name(self, name: str) -> str:
        """Return the application name of worker `name`'s connections (to find them on the server)."""
        return f"{self.schema}/{name}"[:63]

    def _launch(self, name: str, command: list[str], variables: dict[str, str]) -> subprocess.Popen[bytes]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PGQRS_") or key.startswith(KEPT_PREFIXES)
        }
        environment.update(variables, PYTHONPATH=str(REPO_ROOT))
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=log)
        log.close()
        self.processes[name] = process
        return process

    def recorder(self, name: str) -> checker.Recorder:
        """Return a recorder for events of the test process itself, merged with the workers'."""
        path = self.directory / f"{name}.jsonl"
        self.events.append(path)
        recorder = checker.Recorder(path, name)
        self.recorders.append(recorder)
        return recorder

    def wait_ready(self, *names: str, timeout: float = 60) -> None:
        for name in names or tuple(self.processes):
            ready = self.directory / f"{name}.ready"
            process = self.processes[name]

            def is_ready(
                ready: Path = ready, process: subprocess.Popen[bytes] = process, name: str = name
            ) -> bool:
                if process.poll() is not None and not ready.exists():
                    raise AssertionError(f"worker exited early with {process.returncode}: {self.log(name)}")
                return ready.exists()

            wait_until(is_ready, timeout, f"worker {name} to be ready")

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, timeout: float = 120) -> None:
        """Ask every worker to finish (stop file) and wait; fail if one does not."""
        self.stop_file.touch()
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"worker {name} did not stop: {self.log(name)}") from None

    def wait(self, name: str, timeout: float) -> int:
        """Wait for worker `name` to end; a runtime process's end is recorded (see app_exited)."""
        try:
            code = self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker {name} did not finish in {timeout:g}s: {self.log(name)}") from None
        if name in self.apps:
            self.app_exited(name)
        return code

    def app_exited(self, name: str) -> None:
        """Record that runtime process `name` has ended (now, or a moment ago: it was seen dead).

        Its handler invocations that never finished end then, in the checker. The process
        records its own exit too, but `pgqrs worker run` will not, nor does a killed process.
        """
        if self._exits is None:
            self._exits = self.recorder("exits")
        self._exits.exited(name)

    def signal(self, name: str, signum: int) -> None:
        self.processes[name].send_signal(signum)

    def kill_all(self) -> None:
        for recorder in self.recorders:
            recorder.close()  # a test that failed midway left it open
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGCONT)  # a frozen process cannot die of SIGKILL late
                    process.kill()
                except ProcessLookupError:
                    pass
            process.wait(timeout=30)

    def checker(self) -> checker.Checker:
        return checker.Checker.from_files(path for path in self.events if path.exists())

    def exit_codes(self) -> dict[str, int | None]:
        return {name: process.poll() for name, process in self.processes.items()}


def drain(workers: Workers, schema: str, queue_id: int, producers: list[str], timeout: float) -> float:
    """Wait for the producers to finish and the queue to empty, then stop every worker.

    Returns the seconds it took. The queue is empty only when every message was acknowledged
    (a leased message stays in pgqrs_messages), so stopping then loses nothing in flight.
    """
    started = time.monotonic()
    for name in producers:
        code = workers.wait(name, timeout)
        assert code == 0, f"producer {name} failed: {workers.log(name)}"
    remaining = timeout - (time.monotonic() - started)
    wait_until(
        lambda: count_messages(workers.dsn, schema, queue_id) == 0, remaining, "the queue to empty", 0.2
    )
    workers.stop()
    return time.monotonic() - started


def verdict_of(workers: Workers, schema: str, queue_id: int) -> checker.Verdict:
    """Merge every worker's events, read the final tables, and judge."""
    return workers.checker().verdict(checker.final_state(workers.dsn, schema, queue_id))


class CallInThread:
    """Run a blocking call in a thread; `result()` returns its value or raises its exception.

    A call that hangs past `result(timeout)` fails the test instead of hanging it; the daemon
    thread is left behind (it unblocks when the fault is removed).
    """

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._value: Any = None
        self._error: BaseException | None = None
        self.started = time.monotonic()
        self.elapsed: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # handed to the test thread by result()
            self._error = exc
        self.elapsed = time.monotonic() - self.started

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"call still running after {timeout:g}s: it hangs")
        if self._error is not None:
            raise self._error
        return self._value


def blocked_backend(direct_dsn: str, schema: str, fragment: str) -> int | None:
    """Return the pid of a backend of `schema` waiting on a lock in a statement containing `fragment`."""
    with support.connect(direct_dsn) as connection:
        row = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active' "
            "AND position(%s in query) > 0 AND position(%s in query) > 0",
            (f'"{schema}".', fragment),
        ).fetchone()
    return None if row is None else int(row[0])


def prefill(producer: Any, recorder: checker.Recorder, count: int, prefix: str, chunk: int = 1000) -> None:
    """Enqueue `count` keyed messages in batches and record them."""
    for first in range(0, count, chunk):
        keys = range(first, min(count, first + chunk))
        recorder.enqueued(producer.batch_enqueue([{"key": f"{prefix}-{key}"} for key in keys]))


# Worker-runtime processes (app_worker.py) -------------------------------------------------


def registered_worker(workers: Workers, name: str, queue_id: int, timeout: float = 60) -> int:
    """Wait until worker process `name` has registered its consumer; return its worker id."""
    process = workers.processes[name]
    found: list[int] = []

    def registered() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"worker {name} exited early with {process.returncode}: {workers.log(name)}")
        with support.connect(workers.dsn) as connection:
            row = connection.execute(
                f'SELECT id FROM "{workers.schema}".pgqrs_workers '
                "WHERE pid = %s AND queue_id = %s AND status = 'running'",
                (process.pid, queue_id),
            ).fetchone()
        found.extend([int(row[0])] if row else [])
        return bool(found)

    wait_until(registered, timeout, f"worker {name} to register", 0.1)
    return found[0]


def stop_apps(workers: Workers, names: list[str], timeout: float = 60) -> dict[str, int]:
    """SIGTERM these runtime processes (a graceful stop) and wait; return their exit codes."""
    for name in names:
        if workers.processes[name].poll() is None:
            workers.signal(name, signal.SIGTERM)
    return {name: workers.wait(name, timeout) for name in names}


def runtime_verdict(workers: Workers, schema: str, queue_id: int) -> tuple[checker.Checker, checker.Verdict]:
    """Merge the events, add the runtime's acknowledgements from the archive, and judge."""
    events = workers.checker()
    final = checker.final_state(workers.dsn, schema, queue_id)
    events.add_runtime_acks(final)
    return events, events.verdict(final)


def running_invocations(workers: Workers, name: str) -> list[checker.Invocation]:
    """Return the handler invocations of process `name` that started and have not ended."""
    runs = workers.checker().invocations().values()
    return [run for message_runs in runs for run in message_runs if run.process == name and run.end is None]

"""Peak RSS of a consumer and of the worker runtime draining N messages, and of a producer
streaming N JSON lines.

Each is a child process measured by its VmHWM (or ``os.wait4``'s ``ru_maxrss``), at two sizes: a flat
peak means memory does not grow with the number of messages processed.

    python -m pgqrs.bench.memory drain DSN SCHEMA QUEUE    (child: drain, print the count)
    python -m pgqrs.bench.memory runtime DSN SCHEMA QUEUE  (child: pgqrs.App drains, prints the count)
    python -m pgqrs.bench.memory send DSN SCHEMA QUEUE     (child: JSON lines on stdin)
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pgqrs import sync as pgqrs_sync
from pgqrs.bench.environment import ChildFailed, Environment, expect
from pgqrs.bench.payloads import BATCH_SIZE, json_lines

_WRITE_LINES = 1_000
RUNTIME_CONCURRENCY = 16
_ATTEMPTS = 5


def _child_environment() -> dict[str, str]:
    paths = [str(Path(__file__).resolve().parents[2]), *sys.path]  # the folder holding pgqrs
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}


def _high_water_kib(pid: int) -> int | None:
    """Return VmHWM of a live process (KiB): the peak of its own memory since its exec."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _finish(process: subprocess.Popen[bytes], what: str) -> tuple[bytes, int]:
    """Wait for the child; return (what it printed, its peak RSS in KiB).

    ru_maxrss from wait4 is not enough on its own: Linux carries the parent's peak over the fork
    and exec, so a child of a big harness looks as big as it. Where /proc exists, VmHWM (the
    exec'd image's own peak) is sampled until the child exits and preferred.
    """
    assert process.stdout is not None
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            value = _high_water_kib(process.pid)
            if value is not None:
                samples.append(value)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with process.stdout:
        output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise ChildFailed(f"{what} exited with {process.returncode}: {output.decode(errors='replace')}")
    return output, max(samples) if samples else usage.ru_maxrss


def send_command() -> str | None:
    """Return the template of `pgqrs message send QUEUE -` when the CLI is installed."""
    if importlib.util.find_spec("typer") is None or importlib.util.find_spec("pgqrs.cli") is None:
        return None
    return (
        f"{shlex.quote(sys.executable)} -m pgqrs --dsn {{dsn}} --schema {{schema}} message send {{queue}} -"
    )


def consumer_peak(
    environment: Environment, admin: pgqrs_sync.PgqrsAdmin, count: int, mode: str = "drain"
) -> int:
    """Return the peak RSS (KiB) of a child draining `count` messages (`mode` drain or runtime)."""
    environment.reset_pgqrs()
    queue = admin.create_queue(f"memory-{mode}-{count}-{uuid.uuid4().hex[:6]}")
    environment.fill_pgqrs(queue.id, count)
    command = [
        sys.executable,
        "-m",
        "pgqrs.bench.memory",
        mode,
        environment.dsn,
        environment.schema,
        queue.queue_name,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_child_environment()
    )
    output, peak = _finish(process, f"memory {mode}")
    expect(f"memory {mode} of {count}: messages delivered", int(output.split()[-1]), count)
    return peak


def producer_peak(
    environment: Environment, admin: pgqrs_sync.PgqrsAdmin, count: int, template: str | None
) -> int:
    """Return the peak RSS (KiB) of a child producer fed `count` JSON lines on stdin."""
    environment.reset_pgqrs()
    queue = admin.create_queue(f"memory-send-{count}-{uuid.uuid4().hex[:6]}")
    # Quoted: a key=value DSN (the embedded server's) holds spaces.
    values = {"dsn": environment.dsn, "schema": environment.schema, "queue": queue.queue_name}
    fields = {name: shlex.quote(value) for name, value in values.items()}
    command = (
        shlex.split(template.format(**fields))
        if template
        else [
            sys.executable,
            "-m",
            "pgqrs.bench.memory",
            "send",
            environment.dsn,
            environment.schema,
            queue.queue_name,
        ]
    )
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_child_environment(),
    )
    assert process.stdin is not None
    lines: list[bytes] = []
    try:
        for line in json_lines(count):
            lines.append(line)
            if len(lines) == _WRITE_LINES:
                process.stdin.write(b"".join(lines))
                lines.clear()
        process.stdin.write(b"".join(lines))
        process.stdin.close()
    except BrokenPipeError:
        pass  # the producer died: _finish reports why
    _, peak = _finish(process, "memory producer")
    expect(f"memory producer of {count}: messages stored", environment.pgqrs_messages(queue.id), count)
    return peak


def measure(environment: Environment, sizes: tuple[int, ...], template: str | None) -> dict[str, Any]:
    """Return the peak RSS of both children at every size, with the growth between the extremes.

    The producer is `pgqrs message send QUEUE -` when the CLI is installed (or `template`), else
    a stand-in that reads JSON lines the same way and calls `batch_enqueue` per 100.
    """
    template = template or send_command()
    sender = "pgqrs message send -" if template else "stand-in producer"
    report: dict[str, Any] = {}
    with pgqrs_sync.PgqrsAdmin.connect(environment.config) as admin:
        probes = (
            ("consumer (drain, batch 100)", lambda size: consumer_peak(environment, admin, size)),
            (
                f"runtime (pgqrs.App, concurrency {RUNTIME_CONCURRENCY}, archive)",
                lambda size: consumer_peak(environment, admin, size, "runtime"),
            ),
            (f"producer ({sender})", lambda size: producer_peak(environment, admin, size, template)),
        )
        for role, probe in probes:
            peaks = {size: _retried(environment, admin, probe, size) for size in sizes}
            report[role] = {"peak_rss_kib": peaks, "growth_kib": peaks[sizes[-1]] - peaks[sizes[0]]}
            print(f"memory {role}: {peaks}", file=sys.stderr, flush=True)
    environment.reset_pgqrs()
    return report


def _retried(environment: Environment, admin: Any, probe: Callable[[int], int], size: int) -> int:
    """Run one probe, again after a server restart (a shared server restarts under long probes)."""
    for attempt in range(_ATTEMPTS):
        try:
            return probe(size)
        except Exception as error:
            if attempt == _ATTEMPTS - 1 or not getattr(error, "connection_lost", False):
                raise
            print(f"  memory probe of {size:,}: connection lost, again", file=sys.stderr, flush=True)
            environment.reconnect()
            admin.pool.check()
    raise AssertionError("unreachable")


def _drain(dsn: str, schema: str, queue_name: str) -> int:
    """Drain the queue; ride out a server restart (a lease lost with it comes back after 5 s)."""
    config = pgqrs_sync.Config.from_dsn_with_schema(dsn, schema).replace(connection_timeout_seconds=120)
    delivered = 0
    with pgqrs_sync.PgqrsAdmin.connect(config) as admin:
        consumer = pgqrs_sync.Consumer(admin.pool, admin.get_queue(queue_name), config)
        while True:
            try:
                messages = consumer.dequeue_batch(BATCH_SIZE)
                if messages:
                    delivered += sum(consumer.delete_batch([message.id for message in messages]))
                elif admin.queue_metrics(queue_name).total_messages == 0:
                    break
                else:
                    time.sleep(1)  # leased messages whose acknowledgement was lost: wait for them
            except pgqrs_sync.DatabaseError as error:
                if not error.connection_lost:
                    raise
                time.sleep(2)
        consumer.close()
    return delivered


def _run_app(dsn: str, schema: str, queue_name: str) -> int:
    """Drain the queue with the worker runtime: a no-op handler whose messages are archived."""
    config = pgqrs_sync.Config.from_dsn_with_schema(dsn, schema)
    app = pgqrs_sync.App()

    @app.handler(queue_name, concurrency=RUNTIME_CONCURRENCY, on_success="archive")
    def handle(message: pgqrs_sync.QueueMessage) -> None:
        """Do nothing: the runtime's own memory is what is measured."""

    return app.run(config, until_empty=True).succeeded


def _send(dsn: str, schema: str, queue_name: str) -> int:
    config = pgqrs_sync.Config.from_dsn_with_schema(dsn, schema)
    sent = 0
    with pgqrs_sync.PgqrsAdmin.connect(config) as admin:
        producer = pgqrs_sync.Producer(admin.pool, admin.get_queue(queue_name), config)
        batch: list[Any] = []
        for line in sys.stdin.buffer:
            if line.strip():
                batch.append(json.loads(line))
            if len(batch) == BATCH_SIZE:
                sent += len(producer.batch_enqueue(batch))
                batch.clear()
        if batch:
            sent += len(producer.batch_enqueue(batch))
    return sent


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    children = {"drain": _drain, "runtime": _run_app, "send": _send}
    print(children[mode](*arguments))

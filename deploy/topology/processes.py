"""Processes of the topology: workers and producers started inside the network namespaces, and
the CPU time of each kind of process, read from /proc."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import servers

HERE = Path(__file__).resolve().parent
PGQRS = Path(sys.executable).with_name("pgqrs")
TICKS = os.sysconf("SC_CLK_TCK")


def spawn(namespace: str, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` inside `namespace`, in a process group of its own that run.sh can kill."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *command],
            cwd=HERE,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (servers.WORK / "pids" / str(process.pid)).write_text(str(process.pid))
    return process


def start_workers(
    count: int, queue: str, schema: str, sleep_ms: float, listen_dsn: str, tag: str,
    dsn: str = servers.BOUNCER_DSN,
) -> list[subprocess.Popen[bytes]]:  # fmt: skip
    """Start `count` `pgqrs worker run` processes, spread over the namespaces (through PgBouncer
    unless `dsn` says otherwise)."""
    workers = []
    for index in range(count):
        namespace = servers.NAMESPACES[index % len(servers.NAMESPACES)]
        env = {
            "TOPOLOGY_QUEUE": queue,
            "TOPOLOGY_SLEEP_MS": str(sleep_ms),
            "TOPOLOGY_LOG": str(servers.WORK / "logs" / f"{tag}-worker{index}.jsonl"),
            "PGQRS_LISTEN_DSN": listen_dsn,
            # Our PgBouncer is not on 6432, where pgqrs would guess it: no prepared statements.
            "PGQRS_POOLER": "transaction" if dsn == servers.BOUNCER_DSN else "none",
        }
        command = [
            str(PGQRS), "worker", "run", "topology_app:app", "--dsn", dsn,
            "--schema", schema, "--shutdown-timeout", "5", "--format", "json",
        ]  # fmt: skip
        workers.append(spawn(namespace, command, env, servers.WORK / "logs" / f"{tag}-worker{index}.out"))
    return workers


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """SIGTERM each process (a graceful stop), then SIGKILL what is left after `timeout`."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        (servers.WORK / "pids" / str(process.pid)).unlink(missing_ok=True)


def _cpu_seconds(pid: int, with_children: bool = False) -> float:
    """Return a process's CPU seconds (user + system), and its reaped children's if asked."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ")": state is field 3 of stat(5), so utime (14) is index 11 here.
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def machine_busy_seconds() -> float:
    """Return the CPU seconds every core of the machine has spent not idle (all processes)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


@dataclasses.dataclass
class CpuSample:
    server: float
    bouncer: float
    workers: float
    machine: float


def sample(postmaster: int, bouncer: int, workers: list[int]) -> CpuSample:
    """Return the CPU seconds so far of the server (postmaster, its backends, those that ended),
    PgBouncer, the worker processes, and the whole machine."""
    backends = sum(_cpu_seconds(pid) for pid in servers.children(postmaster))
    return CpuSample(
        server=_cpu_seconds(postmaster, with_children=True) + backends,
        bouncer=_cpu_seconds(bouncer),
        workers=sum(_cpu_seconds(pid) for pid in workers),
        machine=machine_busy_seconds(),
    )

"""The fleet measurement: throughput against the number of worker processes, with the CPU each
kind of process used and the server's statements, every run checked by the delivery checker.

For each handler (no-op, 5 ms sleep) and each count of `pgqrs worker run` processes (spread over
the namespaces, each running 10 handlers at once), on a queue of its own: start the workers and
wait until all have registered, enqueue the messages in batches, wait until all are archived,
stop the workers, and check. Throughput is database time: messages / (last archived_at - first
enqueued_at). Appends one JSON line per run to $TOPOLOGY_WORK/results.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import checker
import processes
import psycopg
import servers
from psycopg import sql

import pgqrs

SCHEMA = servers.SCHEMA
HANDLERS = {"noop": 0.0, "sleep5ms": 5.0}
BATCH = 500


async def fill(queue: str, count: int) -> list[int]:
    """Enqueue `count` messages in batches (from the root namespace, straight to the server)."""
    config = pgqrs.Config(dsn=servers.direct_dsn(servers.PRIMARY_PORT), schema=SCHEMA)
    ids: list[int] = []
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        producer = pgqrs.Producer(admin.pool, await admin.get_queue(queue), config)
        for start in range(0, count, BATCH):
            batch = [{"n": n} for n in range(start, min(count, start + BATCH))]
            ids += [message.id for message in await producer.batch_enqueue(batch)]
    return ids


async def prepare(queue: str) -> int:
    config = pgqrs.Config(dsn=servers.direct_dsn(servers.PRIMARY_PORT), schema=SCHEMA)
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        return (await admin.create_queue(queue, exist_ok=True)).id


def wait_for(connection: psycopg.Connection[Any], query: sql.Composed, params: tuple[Any, ...],
             target: int, timeout: float) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = connection.execute(query, params).fetchone()
        if row and row[0] >= target:
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {target}: {query.as_string(connection)}")


def statements(connection: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """The server's five most expensive statements of the run (pg_stat_statements)."""
    rows = connection.execute(
        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), calls, total_exec_time, rows"
        " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 5"
    ).fetchall()
    return [{"query": r[0], "calls": r[1], "total_ms": round(r[2], 1), "rows": r[3]} for r in rows]


def measure(handler: str, workers_count: int, messages: int) -> dict[str, Any]:
    queue = f"{handler}_{workers_count}"
    queue_id = asyncio.run(prepare(queue))
    identifier = sql.Identifier(SCHEMA)
    registered = sql.SQL("SELECT count(*) FROM {}.pgqrs_workers WHERE queue_id = %s AND status = 'running'")
    done = sql.SQL("SELECT count(*) FROM {}.pgqrs_archive WHERE queue_id = %s")
    with psycopg.connect(servers.direct_dsn(servers.PRIMARY_PORT), autocommit=True) as connection:
        fleet = processes.start_workers(
            workers_count, queue, SCHEMA, HANDLERS[handler], servers.direct_dsn(servers.PRIMARY_PORT), queue
        )
        try:
            wait_for(connection, registered.format(identifier), (queue_id,), workers_count, 120)
            connection.execute("SELECT pg_stat_statements_reset()")
            postmaster = servers.postmaster_pid(servers.CLUSTERS / "primary")
            bouncer = int((servers.BOUNCER / "pgbouncer.pid").read_text())
            pids = [process.pid for process in fleet]
            before, started = processes.sample(postmaster, bouncer, pids), time.monotonic()
            ids = asyncio.run(fill(queue, messages))
            wait_for(connection, done.format(identifier), (queue_id,), messages, 600)
            after, wall = processes.sample(postmaster, bouncer, pids), time.monotonic() - started
            top = statements(connection)
            span = connection.execute(
                sql.SQL(
                    "SELECT extract(epoch FROM max(archived_at) - min(enqueued_at))::float8"
                    " FROM {}.pgqrs_archive WHERE queue_id = %s"
                ).format(identifier),
                (queue_id,),
            ).fetchone()
        finally:
            processes.stop(fleet)
    seconds = float(span[0]) if span else wall
    cpu = {
        name: round(getattr(after, name) - getattr(before, name), 2)
        for name in ("server", "bouncer", "workers", "machine")
    }
    logs = [servers.WORK / "logs" / f"{queue}-worker{index}.jsonl" for index in range(workers_count)]
    return {
        "kind": "fleet",
        "handler": handler,
        "workers": workers_count,
        "messages": messages,
        "seconds": round(seconds, 3),
        "throughput": round(messages / seconds, 1),
        "wall": round(wall, 2),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "server_share": round(cpu["server"] / (wall * (os.cpu_count() or 1)), 3),
        "statements": top,
        "verdict": checker.fleet_verdict(
            servers.direct_dsn(servers.PRIMARY_PORT), SCHEMA, queue_id, ids, [p for p in logs if p.exists()]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="1 and 2 workers, fewer messages (CI)")
    arguments = parser.parse_args()
    counts = [1, 2] if arguments.short else [1, 2, 4, 8, 16]
    messages = {"noop": 2_000, "sleep5ms": 1_000} if arguments.short else {"noop": 20_000, "sleep5ms": 10_000}
    servers.init_primary()
    servers.start_bouncer(servers.PRIMARY_PORT)
    with (servers.WORK / "results.jsonl").open("a") as results:
        for handler in HANDLERS:
            for count in counts:
                result = measure(handler, count, messages[handler])
                print(
                    f"fleet {handler:>8} x{count:<2}: {result['throughput']:8.1f} msg/s, server CPU "
                    f"{result['server_share']:.0%} of the machine, verdict {result['verdict']}",
                    flush=True,
                )
                results.write(json.dumps(result) + "\n")
    servers.stop_bouncer()
    servers.stop(servers.CLUSTERS / "primary")


if __name__ == "__main__":
    main()

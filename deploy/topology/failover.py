"""The failover: under load, kill -9 the primary, promote its replica, repoint PgBouncer; count
what was lost and what was delivered again, and time the way back.

A fresh primary and a streaming replica (synchronous with --mode sync: a commit the client saw
is on both; asynchronous with --mode async, to show what that loses). Producers (producer.py)
and `pgqrs worker run` processes run in the namespaces through PgBouncer, the workers listening
on a multi-host DSN (target_session_attrs=read-write) that finds the promoted server by itself.
After the warm-up the primary's processes are all killed at once with SIGKILL; then the replica
is promoted and PgBouncer pointed at it with a RELOAD, as a failover manager's hook would
(--route bouncer), or the producers and workers use the multi-host DSN for everything and find
the promoted server by themselves (--route multihost). The clients are not restarted. Appends
one JSON line to $TOPOLOGY_WORK/results.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import checker
import processes
import producer
import psycopg
import servers
from psycopg import sql

import pgqrs


async def prepare() -> int:
    settings = pgqrs.Config(dsn=servers.direct_dsn(servers.PRIMARY_PORT), schema=servers.SCHEMA)
    async with await pgqrs.PgqrsAdmin.connect(settings) as admin:
        await admin.install()
        return (await admin.create_queue(producer.QUEUE)).id


def wait_drained(dsn: str, queue_id: int, timeout: float) -> bool:
    """Wait until the queue holds no message (every one archived); False after `timeout`."""
    query = sql.SQL("SELECT count(*) FROM {}.pgqrs_messages WHERE queue_id = %s").format(
        sql.Identifier(servers.SCHEMA)
    )
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(query, (queue_id,)).fetchone()
            if row is not None and row[0] == 0:
                return True
            time.sleep(0.5)
    return False


def first_archive_after(dsn: str, queue_id: int, moment: float) -> float | None:
    """Return when the first message was archived after `moment` (database clock, epoch seconds)."""
    query = sql.SQL(
        "SELECT extract(epoch FROM min(archived_at))::float8 FROM {}.pgqrs_archive"
        " WHERE queue_id = %s AND archived_at > to_timestamp(%s)"
    ).format(sql.Identifier(servers.SCHEMA))
    with psycopg.connect(dsn) as connection:
        row = connection.execute(query, (queue_id, moment)).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def run(mode: str, route: str, short: bool) -> dict[str, Any]:
    warmup, seconds, detection = (6.0, 25.0, 5.0) if short else (20.0, 60.0, 10.0)
    per_namespace = 1 if short else 2
    primary = servers.init_primary()
    replica = servers.init_replica()
    if mode == "sync":
        servers.make_synchronous()
    servers.start_bouncer(servers.PRIMARY_PORT)
    queue_id = asyncio.run(prepare())
    tag = f"failover-{mode}-{route}"
    # How clients reach the new primary: PgBouncer, repointed; or both servers in one DSN.
    dsn = servers.BOUNCER_DSN if route == "bouncer" else servers.MULTI_HOST_DSN
    logs = servers.WORK / "logs"
    workers = processes.start_workers(
        per_namespace * len(servers.NAMESPACES),
        producer.QUEUE,
        servers.SCHEMA,
        5.0,
        servers.MULTI_HOST_DSN,
        tag,
        dsn,
    )
    producers = []
    for index, namespace in enumerate(servers.NAMESPACES):
        command = [
            str(processes.PGQRS.with_name("python")), "producer.py", "--name", f"p{index}",
            "--seconds", str(seconds), "--log", str(logs / f"{tag}-producer{index}.jsonl"), "--dsn", dsn,
        ]  # fmt: skip
        producers.append(processes.spawn(namespace, command, {}, logs / f"{tag}-producer{index}.out"))
    try:
        time.sleep(warmup)
        servers.crash(primary)
        killed = time.time()  # every process of the primary is gone: what follows is the new one's
        time.sleep(detection)  # a failover manager's time to notice and decide
        servers.promote(replica)
        promoted = time.time()
        if route == "bouncer":
            servers.repoint_bouncer(servers.REPLICA_PORT)
        repointed = time.time()
        for process in producers:
            process.wait(seconds + producer._GRACE + 30)
        new_primary = servers.direct_dsn(servers.REPLICA_PORT)
        drained = wait_drained(new_primary, queue_id, 90)
    finally:
        processes.stop(producers)
        processes.stop(workers)
    records = checker.read_lines(sorted(logs.glob(f"{tag}-producer*.jsonl")))
    acks = [record for record in records if "id" in record]
    errors: dict[str, int] = {}
    for record in records:
        if "error" in record:
            errors[record["error"]] = errors.get(record["error"], 0) + 1
    # Sent after the kill: an acknowledgement of a commit on the old primary may still be on its
    # way to a busy client just after the kill; one sent later can only come from the new one.
    after = [ack["t"] for ack in acks if ack["sent"] > killed]
    archived = first_archive_after(new_primary, queue_id, killed)
    figures = {
        "detection_s": detection,
        "promote_s": round(promoted - killed, 2),
        "repoint_s": round(repointed - killed, 2),
        "first_enqueue_s": round(min(after) - killed, 2) if after else None,
        "first_processed_s": round(archived - killed, 2) if archived else None,
        "retried_enqueues": sum(1 for ack in acks if ack["attempts"] > 1),
        "errors": errors,
        "drained": drained,
    }
    invocations = [Path(path) for path in sorted(logs.glob(f"{tag}-worker*.jsonl"))]
    verdict = checker.failover_verdict(new_primary, servers.SCHEMA, queue_id, acks, invocations)
    servers.stop_bouncer()
    servers.stop(replica)
    return {"kind": "failover", "mode": mode, "route": route, "figures": figures, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("sync", "async"), required=True)
    parser.add_argument(
        "--route",
        choices=("bouncer", "multihost"),
        default="bouncer",
        help="PgBouncer repointed, or a multi-host DSN",
    )
    parser.add_argument("--short", action="store_true", help="one worker and producer per namespace, 20 s")
    arguments = parser.parse_args()
    result = run(arguments.mode, arguments.route, arguments.short)
    print(
        f"failover {arguments.mode} {arguments.route}: {result['figures']} verdict {result['verdict']}",
        flush=True,
    )
    with (servers.WORK / "results.jsonl").open("a") as results:
        results.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

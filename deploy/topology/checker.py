"""The delivery checker: what the handlers recorded against what the database holds at the end.

Every handler invocation is one JSON line (topology_app.py); every enqueue the fleet made is
known by id (the fleet's fill) or by dedup key (the failover's producers, which log each
acknowledged enqueue). The verdict's counts:

- lost: an enqueued message (acknowledged, for the producers) that is not in the archive;
- twice_in_lease: two invocations of one message under one lease (same id and read_ct);
- overlapping_runs: two invocations of one message that ran at the same time;
- delivered_again: messages handled more than once in all (allowed: at least once);
- archived_twice: a message archived more than once (a key written twice counts here too).
"""

from __future__ import annotations

import collections
import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

Record = dict[str, Any]


def read_lines(paths: Iterable[Path]) -> list[Record]:
    """Return the JSON lines of these files; a torn last line (a killed process) is skipped."""
    records = []
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def lease_faults(invocations: list[Record]) -> dict[str, int]:
    """Count two invocations under one lease, and invocations of one message that overlapped."""
    same_lease = collections.Counter((record["id"], record["read_ct"]) for record in invocations)
    by_message: dict[int, list[Record]] = collections.defaultdict(list)
    for record in invocations:
        by_message[record["id"]].append(record)
    overlapping = 0
    for runs in by_message.values():
        runs.sort(key=lambda record: record["start"])
        overlapping += sum(1 for before, after in itertools.pairwise(runs) if after["start"] < before["end"])
    return {
        "twice_in_lease": sum(count - 1 for count in same_lease.values() if count > 1),
        "overlapping_runs": overlapping,
        "delivered_again": sum(1 for runs in by_message.values() if len(runs) > 1),
    }


def archived(
    dsn: str, schema: str, queue_id: int
) -> tuple[collections.Counter[int], collections.Counter[str]]:
    """Return how often each message id, and each payload key, is in the queue's archive."""
    query = sql.SQL("SELECT id, payload->>'key' FROM {}.pgqrs_archive WHERE queue_id = %s").format(
        sql.Identifier(schema)
    )
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(query, (queue_id,)).fetchall()
    return collections.Counter(row[0] for row in rows), collections.Counter(row[1] for row in rows if row[1])


def fleet_verdict(dsn: str, schema: str, queue_id: int, enqueued: list[int], logs: list[Path]) -> Record:
    """The verdict of a fleet run: every enqueued id archived exactly once, no lease fault."""
    by_id, _ = archived(dsn, schema, queue_id)
    verdict: Record = {
        "enqueued": len(enqueued),
        "lost": sum(1 for msg_id in enqueued if msg_id not in by_id),
        "archived_twice": sum(1 for count in by_id.values() if count > 1),
        "unexpected": len(set(by_id) - set(enqueued)),
    }
    verdict.update(lease_faults(read_lines(logs)))
    return verdict


def failover_verdict(dsn: str, schema: str, queue_id: int, acks: list[Record], logs: list[Path]) -> Record:
    """The verdict of a failover run, by dedup key: acknowledged enqueues found on the new primary."""
    _, by_key = archived(dsn, schema, queue_id)
    query = sql.SQL("SELECT payload->>'key' FROM {}.pgqrs_messages WHERE queue_id = %s").format(
        sql.Identifier(schema)
    )
    with psycopg.connect(dsn) as connection:
        waiting = {row[0] for row in connection.execute(query, (queue_id,)).fetchall()}
    keys = {ack["key"] for ack in acks}
    invocations = read_lines(logs)
    handled = collections.Counter(record["key"] for record in invocations)
    verdict: Record = {
        "acknowledged": len(keys),
        "acknowledged_lost": sum(1 for key in keys if key not in by_key and key not in waiting),
        "lost": sum(1 for key in keys if key not in by_key),
        "archived_twice": sum(1 for key in keys if by_key[key] > 1),
        "acknowledged_delivered_again": sum(1 for key in keys if handled[key] > 1),
    }
    verdict.update(lease_faults(invocations))
    return verdict

"""The pgmq side of the peer comparison: run in pgmq's own virtual environment (see peer_protocol).

pgmq's SQL is installed as plain SQL (the install script its Python client ships, no extension
build) in a database of its own, which the harness creates and drops: the script creates a
fixed `pgmq` schema. Each workload is what a pgmq user writes with its Python client
(`PGMQueue`, psycopg underneath): `send`, `send_batch`, `read(qty=...)`, `delete_batch`,
`archive_batch`. pgmq has no worker runtime: W8 is not one of its workloads.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

from pgmq import PGMQueue, get_embedded_install_sql, get_embedded_sql_version, install_pgmq_sql

if TYPE_CHECKING:
    from pgqrs.bench import peer_protocol as protocol
else:  # run as a script beside it, in the peer's environment
    import peer_protocol as protocol

QUEUE = "bench"
VT = 30


def client(dsn: str, pool_size: int = 1) -> Any:
    return PGMQueue(conn_string=dsn, init_extension=False, pool_size=pool_size)


def drain(queue: Any, batch: int, archive: bool) -> list[int]:
    """Read `batch` at a time and acknowledge until the queue is empty; return the ids seen."""
    seen: list[int] = []
    acknowledge = queue.archive_batch if archive else queue.delete_batch
    while True:
        messages = queue.read(QUEUE, vt=VT, qty=batch) if batch > 1 else [queue.read(QUEUE, vt=VT)]
        messages = [message for message in messages if message is not None]
        if not messages:
            return seen
        ids = [message.msg_id for message in messages]
        if len(acknowledge(QUEUE, ids)) != len(ids):
            raise RuntimeError("pgmq: an acknowledgement missed a message")
        seen.extend(ids)


def consumer(barrier: Any, results: Any, dsn: str) -> None:
    """A W5 process: its own client, released with the others, drains by 100."""
    queue = client(dsn)
    barrier.wait()
    seen = drain(queue, protocol.BATCH, False)
    results.put((seen, time.monotonic()))
    queue.close()
    protocol.leave(results)


class Peer:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        install_pgmq_sql(get_embedded_install_sql(), dsn=dsn)
        self.queue = client(dsn)
        self.queue.create_queue(QUEUE)
        self.items: list[dict[str, Any]] = []

    def count(self, table: str = "q_bench") -> int:
        row = self.queue._execute_one(f"SELECT count(*) FROM pgmq.{table}")
        return int(row[0])

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        workload = request["workload"]
        if request["command"] == "prepare":
            return self.prepare(workload, request["count"])
        if request["command"] != "run":
            raise ValueError(f"pgmq has no {request['command']}")
        if workload == "W5":
            seconds, seen = protocol.parallel(consumer, (self.dsn,), request.get("processes", 4))
            return protocol.outcome(seconds, seen, self.count())
        return self.run(workload)

    def prepare(self, workload: str, count: int) -> dict[str, Any]:
        self.queue._execute("TRUNCATE pgmq.q_bench, pgmq.a_bench")
        self.items = protocol.payloads(count)
        if workload not in ("W1", "W2"):
            for chunk in protocol.chunks(self.items, protocol.FILL_CHUNK):  # through the client, untimed
                self.queue.send_batch(QUEUE, chunk)
            self.queue._execute("ANALYZE pgmq.q_bench")
        return {"ok": True}

    def run(self, workload: str) -> dict[str, Any]:
        seen: list[int] = []
        start = time.perf_counter()
        if workload == "W1":
            for item in self.items:
                self.queue.send(QUEUE, item)
        elif workload == "W2":
            for chunk in protocol.chunks(self.items, protocol.BATCH):
                self.queue.send_batch(QUEUE, chunk)
        elif workload in ("W3", "W3a", "W4"):
            seen = drain(self.queue, 1 if workload == "W4" else protocol.BATCH, workload == "W3a")
        else:
            raise ValueError(f"pgmq has no {workload}")
        seconds = time.perf_counter() - start
        reply = protocol.outcome(seconds, seen, self.count())
        reply["archived"] = self.count("a_bench")
        return reply

    async def close(self) -> None:
        self.queue.close()


if __name__ == "__main__":
    import sys

    peer = Peer(sys.argv[1])
    version = f"{metadata.version('pgmq')} (SQL {get_embedded_sql_version()}, installed as plain SQL)"
    protocol.serve(version, peer.handle, peer.close)

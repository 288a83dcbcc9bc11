"""The upstream Rust project's Python bindings (the `pgqrs` package of the index, 0.15.x) as a peer.

Its import name is this project's: it runs only in a virtual environment of its own (see
peer_protocol), in a database of its own that the harness creates and drops. Its API is async
only: `Producer.enqueue`, `enqueue_batch`, `Consumer.dequeue(n)`, `delete_many`, `archive_many`.
Its producers rate-limit enqueues by default (1,000/s, bursts of 50): the limit is switched off,
as a user measuring throughput would. It has no drain mode for its `consume` loop (it runs until
cancelled): W8 is not one of its workloads. Counts and truncation use psycopg, its dependency.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from pgqrs.bench import peer_protocol as protocol
else:  # run as a script beside it, in the peer's environment
    import peer_protocol as protocol

# The bindings, not this project (the peer's environment has no other `pgqrs`): untyped here.
pgqrs: Any = importlib.import_module("pgqrs")

QUEUE = "bench"


async def connect(dsn: str) -> Any:
    config = pgqrs.Config(dsn, schema="public")
    config.max_enqueue_per_second = None
    config.max_enqueue_burst = None
    return await pgqrs.connect_with(config)


async def drain(consumer: Any, batch: int, archive: bool) -> list[int]:
    """Dequeue `batch` at a time and acknowledge until the queue is empty; return the ids seen."""
    seen: list[int] = []
    acknowledge = consumer.archive_many if archive else consumer.delete_many
    while True:
        messages = await consumer.dequeue(batch)
        if not messages:
            return seen
        ids = [message.id for message in messages]
        if not all(await acknowledge(ids)):
            raise RuntimeError("pgqrs (Rust): an acknowledgement missed a message")
        seen.extend(ids)


def consumer_process(barrier: Any, results: Any, dsn: str) -> None:
    """A W5 process: its own store and consumer, released with the others, drains by 100."""

    async def work() -> None:
        store = await connect(dsn)
        consumer = await store.consumer(QUEUE)
        barrier.wait()
        seen = await drain(consumer, protocol.BATCH, False)
        results.put((seen, time.monotonic()))

    asyncio.run(work())
    protocol.leave(results)


class Peer:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.items: list[dict[str, Any]] = []
        self.sql = psycopg.connect(dsn, autocommit=True)

    async def open(self) -> None:
        self.store = await connect(self.dsn)
        await pgqrs.admin(self.store).install()
        await self.store.queue(QUEUE)
        self.producer = await self.store.producer(QUEUE)
        self.consumer = await self.store.consumer(QUEUE)

    def count(self, archived: bool = False) -> int:
        condition = "archived_at IS NOT NULL" if archived else "archived_at IS NULL"
        row = self.sql.execute(f"SELECT count(*) FROM public.pgqrs_messages WHERE {condition}").fetchone()
        return int(row[0]) if row else 0

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if not hasattr(self, "store"):
            await self.open()
        workload = request["workload"]
        if request["command"] == "prepare":
            return await self.prepare(workload, request["count"])
        if request["command"] != "run":
            raise ValueError(f"pgqrs (Rust) has no {request['command']}")
        if workload == "W5":
            seconds, seen = protocol.parallel(consumer_process, (self.dsn,), request.get("processes", 4))
            return protocol.outcome(seconds, seen, self.count())
        return await self.run(workload)

    async def prepare(self, workload: str, count: int) -> dict[str, Any]:
        self.sql.execute("TRUNCATE public.pgqrs_messages CASCADE")
        self.items = protocol.payloads(count)
        if workload not in ("W1", "W2"):
            for chunk in protocol.chunks(self.items, protocol.BATCH):  # through the library, untimed
                await pgqrs.enqueue_batch(self.producer, chunk)
            self.sql.execute("VACUUM ANALYZE public.pgqrs_messages")
        return {"ok": True}

    async def run(self, workload: str) -> dict[str, Any]:
        seen: list[int] = []
        start = time.perf_counter()
        if workload == "W1":
            for item in self.items:
                await self.producer.enqueue(item)
        elif workload == "W2":
            for chunk in protocol.chunks(self.items, protocol.BATCH):
                await pgqrs.enqueue_batch(self.producer, chunk)
        elif workload in ("W3", "W3a", "W4"):
            batch = 1 if workload == "W4" else protocol.BATCH
            seen = await drain(self.consumer, batch, workload == "W3a")
        else:
            raise ValueError(f"pgqrs (Rust) has no {workload}")
        seconds = time.perf_counter() - start
        reply = protocol.outcome(seconds, seen, self.count())
        reply["archived"] = self.count(archived=True)
        return reply

    async def close(self) -> None:
        self.sql.close()


if __name__ == "__main__":
    import sys

    peer = Peer(sys.argv[1])
    protocol.serve(metadata.version("pgqrs"), peer.handle, peer.close)

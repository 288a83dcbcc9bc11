"""The pgqueuer side of the peer comparison: run in pgqueuer's own virtual environment.

Standalone on purpose (only the standard library, pgqueuer and asyncpg, pgqueuer's own driver):
the harness starts it with the peer environment's interpreter and talks JSON lines over stdin and
stdout. Each workload is what a pgqueuer user writes for the same job as pgqrs's: payloads
encoded with `json.dumps` before `enqueue` and decoded with `json.loads` after `dequeue`, jobs
acknowledged with `log_jobs(... "successful" ...)` (pgqueuer deletes them and writes its log).

    {"command": "prepare", "workload": "W3", "count": 50000}   -> {"ok": true}
    {"command": "run", "workload": "W3", "processes": 4}       -> {"seconds": ..., "seen": ..., ...}
    {"command": "runtime", "count": 20000, "concurrency": 16, "sleep": 0.0}
        -> W8: pgqueuer's QueueManager drains the prepared jobs (drain mode), as pgqrs's App does
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from pgqueuer import __version__
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import EntrypointExecutionParameter, Queries

if TYPE_CHECKING:
    from pgqrs.bench import peer_protocol as protocol
else:  # run as a script beside it, in the peer's environment
    import peer_protocol as protocol

ENTRYPOINT = "bench"
BATCH = protocol.BATCH


async def connect(dsn: str, schema: str) -> tuple[asyncpg.Connection, Queries]:
    connection = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    return connection, Queries(AsyncpgDriver(connection))


async def drain(queries: Queries, batch: int) -> list[int]:
    """Dequeue `batch` at a time and acknowledge until the queue is empty; return the ids seen."""
    seen: list[int] = []
    manager = uuid.uuid4()
    entrypoints = {ENTRYPOINT: EntrypointExecutionParameter(concurrency_limit=0)}
    while True:
        jobs = await queries.dequeue(batch, entrypoints, manager, None, timedelta(seconds=30))
        if not jobs:
            return seen
        for job in jobs:
            json.loads(job.payload or b"null")
        await queries.log_jobs([(job, "successful", None) for job in jobs])
        seen.extend(int(job.id) for job in jobs)


def _consumer(barrier: Any, results: Any, dsn: str, schema: str) -> None:
    async def work() -> None:
        connection, queries = await connect(dsn, schema)
        barrier.wait()
        seen = await drain(queries, BATCH)
        results.put((seen, time.monotonic()))
        await connection.close()

    asyncio.run(work())
    protocol.leave(results)


class Peer:
    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.items: list[dict[str, Any]] = []

    async def open(self) -> None:
        self.connection, self.queries = await connect(self.dsn, self.schema)
        # A worker started again after a server restart finds its schema installed already.
        if await self.connection.fetchval("SELECT to_regclass('pgqueuer') IS NULL"):
            await self.queries.install()

    async def count(self) -> int:
        return int(await self.connection.fetchval("SELECT count(*) FROM pgqueuer"))

    async def prepare(self, workload: str, count: int) -> dict[str, Any]:
        await self.connection.execute("TRUNCATE pgqueuer, pgqueuer_log")
        self.items = protocol.payloads(count)
        if workload not in ("W1", "W2"):
            for start in range(0, count, 1000):  # filled through the library, untimed
                chunk = [json.dumps(item).encode() for item in self.items[start : start + 1000]]
                await self.queries.enqueue([ENTRYPOINT] * len(chunk), list(chunk), [0] * len(chunk))
            await self.connection.execute("ANALYZE pgqueuer")
        return {"ok": True}

    async def run(self, workload: str, processes: int) -> dict[str, Any]:
        seen: list[int] = []
        start = time.perf_counter()
        if workload == "W1":
            for item in self.items:
                await self.queries.enqueue(ENTRYPOINT, json.dumps(item).encode())
        elif workload == "W2":
            for first in range(0, len(self.items), BATCH):
                chunk = [json.dumps(item).encode() for item in self.items[first : first + BATCH]]
                await self.queries.enqueue([ENTRYPOINT] * len(chunk), chunk, [0] * len(chunk))
        elif workload in ("W3", "W4"):
            seen = await drain(self.queries, BATCH if workload == "W3" else 1)
        elif workload == "W5":
            return await self._parallel(processes)
        else:
            raise ValueError(f"pgqueuer has no {workload}")
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "seen": len(seen), "distinct": len(set(seen)), "left": await self.count()}

    async def _parallel(self, processes: int) -> dict[str, Any]:
        seconds, seen = protocol.parallel(_consumer, (self.dsn, self.schema), processes)
        return protocol.outcome(seconds, seen, await self.count())


async def run_worker(dsn: str, schema: str, count: int, concurrency: int, sleep: float) -> dict[str, Any]:
    """W8: a QueueManager with one entrypoint of `concurrency`, in drain mode, on its own connection."""
    from pgqueuer import QueueManager
    from pgqueuer.types import QueueExecutionMode

    connection, queries = await connect(dsn, schema)
    manager = QueueManager(queries)
    seen: list[int] = []

    @manager.entrypoint(ENTRYPOINT, concurrency_limit=concurrency)  # type: ignore[untyped-decorator]
    async def handle(job: Any) -> None:
        json.loads(job.payload or b"null")
        seen.append(int(job.id))
        if sleep:
            await asyncio.sleep(sleep)

    start = time.perf_counter()
    await manager.run(
        dequeue_timeout=timedelta(seconds=0.05),
        batch_size=max(1, concurrency),
        mode=QueueExecutionMode.drain,
        max_concurrent_tasks=2 * max(1, concurrency),
    )
    seconds = time.perf_counter() - start
    left = int(await connection.fetchval("SELECT count(*) FROM pgqueuer"))
    await connection.close()
    return {"seconds": seconds, "seen": len(seen), "distinct": len(set(seen)), "left": left}


async def serve(dsn: str, schema: str) -> None:
    peer = Peer(dsn, schema)
    await peer.open()
    print(json.dumps({"ready": True, "version": __version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["command"] == "prepare":
            reply = await peer.prepare(request["workload"], request["count"])
        elif request["command"] == "run":
            reply = await peer.run(request["workload"], request.get("processes", 4))
        elif request["command"] == "runtime":
            count, concurrency, sleep = request["count"], request["concurrency"], request["sleep"]
            reply = await run_worker(dsn, schema, count, concurrency, sleep)
        else:
            break
        print(json.dumps(reply), flush=True)
    await peer.connection.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
    protocol.leave()

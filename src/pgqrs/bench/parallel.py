"""W5: consumer processes draining one queue together, with a no-duplicate / no-loss check.

Each process connects and registers before a barrier; the clock runs from the barrier to the
last process's end, so process start-up and imports are not timed. The ids each process saw
come back to the parent, which the caller checks (nothing seen twice, nothing missing).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import multiprocessing
import threading
import time
import traceback
from typing import Any

from pgqrs.bench.environment import ChildFailed
from pgqrs.bench.payloads import BATCH_SIZE

_START_TIMEOUT_SECONDS = 120
_RUN_TIMEOUT_SECONDS = 1800


@dataclasses.dataclass(frozen=True)
class Job:
    """What every consumer process drains: `kind` is raw, raw+schema, raw-async+schema, sync or
    async."""

    kind: str
    dsn: str
    schema: str
    queue_name: str
    package: str = "pgqrs"
    batch: int = BATCH_SIZE


def measure(job: Job, processes: int) -> tuple[float, list[int]]:
    """Drain the queue with `processes` processes; return (seconds, every id seen, in any order)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [context.Process(target=_consume, args=(job, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(_START_TIMEOUT_SECONDS)
        start = time.monotonic()
    except threading.BrokenBarrierError:
        start = time.monotonic()  # a process failed to start: its error is collected below
    outcomes = [results.get(timeout=_RUN_TIMEOUT_SECONDS) for _ in workers]
    for worker in workers:
        worker.join()
    failures = [outcome[1] for outcome in outcomes if outcome[0] == "error"]
    if failures:
        raise ChildFailed(f"W5 {job.kind}: a consumer process failed:\n{failures[0]}")
    seen = [msg_id for outcome in outcomes for msg_id in outcome[1]]
    return max(outcome[2] for outcome in outcomes) - start, seen


def _consume(job: Job, barrier: Any, results: Any) -> None:
    try:
        if job.kind == "async":
            seen, end = asyncio.run(_consume_async(job, barrier))
        elif job.kind == "sync":
            seen, end = _consume_sync(job, barrier)
        elif job.kind == "raw-async+schema":
            seen, end = asyncio.run(_consume_raw_async(job, barrier))
        else:
            seen, end = _consume_raw(job, barrier)
        results.put(("ok", seen, end))
    except BaseException:
        barrier.abort()
        results.put(("error", traceback.format_exc(), 0.0))


def _consume_raw(job: Job, barrier: Any) -> tuple[list[int], float]:
    from pgqrs.bench import library, raw

    queue = raw.RawQueue(job.dsn, job.schema, required_schema=job.kind == "raw+schema")
    seen: list[int] = []
    try:
        barrier.wait(_START_TIMEOUT_SECONDS)
        library.run_to_end(raw.drain(queue, job.batch, False, None, seen))
        return seen, time.monotonic()
    finally:
        queue.close()


async def _consume_raw_async(job: Job, barrier: Any) -> tuple[list[int], float]:
    from pgqrs.bench import library, raw_async

    queue = await raw_async.AsyncRawQueue.connect(job.dsn, job.schema, required_schema=True)
    seen: list[int] = []
    try:
        barrier.wait(_START_TIMEOUT_SECONDS)
        await library.run_to_end_async(raw_async.drain(queue, job.batch, False, None, seen))
        return seen, time.monotonic()
    finally:
        await queue.close()


def _consume_sync(job: Job, barrier: Any) -> tuple[list[int], float]:
    from pgqrs.bench import library

    pgqrs_sync: Any = importlib.import_module(f"{job.package}.sync")
    config = pgqrs_sync.Config.from_dsn_with_schema(job.dsn, job.schema).replace(max_connections=2)
    with pgqrs_sync.PgqrsAdmin.connect(config) as admin:
        consumer = pgqrs_sync.Consumer(admin.pool, admin.get_queue(job.queue_name), config)
        consumer.register()
        seen: list[int] = []
        barrier.wait(_START_TIMEOUT_SECONDS)
        library.run_to_end(library.drain(consumer, job.batch, False, None, seen))
        end = time.monotonic()
        consumer.close()
    return seen, end


async def _consume_async(job: Job, barrier: Any) -> tuple[list[int], float]:
    from pgqrs.bench import library

    pgqrs: Any = importlib.import_module(job.package)
    config = pgqrs.Config.from_dsn_with_schema(job.dsn, job.schema).replace(max_connections=2)
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        consumer = pgqrs.Consumer(admin.pool, await admin.get_queue(job.queue_name), config)
        await consumer.register()
        seen: list[int] = []
        barrier.wait(_START_TIMEOUT_SECONDS)
        await library.run_to_end_async(library.drain_async(consumer, job.batch, False, None, seen))
        end = time.monotonic()
        await consumer.close()
    return seen, end

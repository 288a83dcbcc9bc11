"""64 producers on one Producer (with ``--bounds``): many callers' `enqueue()` against one connection's.

64 asyncio tasks share one async `Producer`, and 64 threads one blocking `Producer`; each calls
`enqueue()` for its share of the messages. The floor they are held to is W1 raw: one connection
inserting the same messages one statement at a time, measured in the same repetition (run by
run, in rotating order). How the Producer serves 64 callers (its pool, or coalescing their
inserts into fewer statements) is its own business: the goal is >= 3x that single connection.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pgqrs
from pgqrs import sync as pgqrs_sync
from pgqrs.bench import library, raw, timing
from pgqrs.bench.environment import Environment, expect
from pgqrs.bench.payloads import chunks, payloads
from pgqrs.bench.report import Series

CALLERS = 64
QUEUE = "producers"
RAW = "raw W1, 1 connection"
ASYNC = f"async, {CALLERS} tasks"
SYNC = f"sync, {CALLERS} threads"


def _shares(count: int) -> list[list[Any]]:
    items = payloads(count)
    size = -(-count // CALLERS)
    return [list(share) for share in chunks(items, size)]


async def _async_run(config: pgqrs.Config, count: int) -> float:
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        producer = pgqrs.Producer(admin.pool, await admin.get_queue(QUEUE), config)

        async def call(share: list[Any]) -> None:
            for item in share:
                await producer.enqueue(item)

        shares = _shares(count)
        start = time.perf_counter()
        await asyncio.gather(*(call(share) for share in shares))
        return time.perf_counter() - start


def _sync_run(config: pgqrs.Config, count: int) -> float:
    with pgqrs_sync.PgqrsAdmin.connect(config) as admin:
        producer = pgqrs_sync.Producer(admin.pool, admin.get_queue(QUEUE), config)

        def call(share: list[Any]) -> None:
            for item in share:
                producer.enqueue(item)

        shares = _shares(count)
        with ThreadPoolExecutor(CALLERS) as pool:
            start = time.perf_counter()
            list(pool.map(call, shares))
            return time.perf_counter() - start


def _raw_run(environment: Environment, count: int) -> float:
    queue = raw.RawQueue(environment.dsn, environment.schema)
    try:
        start = time.perf_counter()
        library.run_to_end(raw.enqueue_each(queue, payloads(count)))
        return time.perf_counter() - start
    finally:
        queue.close()


def _one(environment: Environment, name: str, count: int) -> float:
    """Run one side once on an emptied table; check every message was stored."""
    if name == RAW:
        environment.reset_raw()
        environment.quiesce()
        seconds = _raw_run(environment, count)
        expect(f"{name}: messages stored", environment.raw_messages(), count)
        return seconds
    environment.reset_pgqrs()
    queue_id = environment.ensure_queue(QUEUE)
    environment.quiesce()
    config = environment.config
    seconds = asyncio.run(_async_run(config, count)) if name == ASYNC else _sync_run(config, count)
    expect(f"{name}: messages stored", environment.pgqrs_messages(queue_id), count)
    return seconds


def measure(dsn: str, count: int, repeat: int, apis: tuple[str, ...]) -> dict[str, Series]:
    """Return each side's series: the raw single connection, then each API's 64 callers."""
    sides = [RAW] + [ASYNC if api == "async" else SYNC for api in apis]
    results = {name: Series("W1x64", name, count) for name in sides}
    environment = Environment.create(dsn)
    try:
        for turn in range(repeat):
            for name in sides[turn % len(sides) :] + sides[: turn % len(sides)]:
                seconds = _one(environment, name, count)
                results[name].seconds.append(seconds)
                rate = count / seconds
                timing.progress(f"{CALLERS} producers #{turn + 1} {name:>24}: {rate:>10,.0f} msg/s")
    finally:
        environment.close()
    return results

"""What every peer worker shares: the payload, the JSON-lines loop and W5's processes.

Standalone (the standard library only): a peer worker script runs in the peer's own virtual
environment, where pgqrs is not installed (or, for the upstream Rust project's bindings, is
another package of the same name), and imports this file from the folder it sits in.

    {"command": "prepare", "workload": "W3", "count": 50000}   -> {"ok": true}
    {"command": "run", "workload": "W3", "processes": 4}       -> {"seconds": ..., "seen": ..., ...}
    {"command": "runtime", "count": 20000, "concurrency": 16, "sleep": 0.0}   -> the same (W8)

A run's reply: the seconds it took (the worker's own clock, so the pipe is not timed), the ids
it delivered ("seen", "distinct") and the messages left in the peer's tables ("left").
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

BATCH = 100
BODY = "x" * 60
FILL_CHUNK = 1000


def payload(index: int) -> dict[str, Any]:
    """The harness's ~100-byte payload (pgqrs.bench.payloads.payload)."""
    return {"id": index, "kind": "bench", "body": BODY, "attempt": 0}


def payloads(count: int) -> list[dict[str, Any]]:
    """Return `count` payloads numbered from 1."""
    return [payload(index) for index in range(1, count + 1)]


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """Split `items` into consecutive slices of at most `size`."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def outcome(seconds: float, seen: Iterable[int], left: int) -> dict[str, Any]:
    """The reply to a run."""
    ids = list(seen)
    return {"seconds": seconds, "seen": len(ids), "distinct": len(set(ids)), "left": left}


def parallel(
    consumer: Callable[..., None], arguments: tuple[Any, ...], processes: int
) -> tuple[float, list[int]]:
    """W5: start `processes` spawned `consumer(barrier, results, *arguments)`, release them
    together, and return (seconds until the last one finished, every id they delivered).

    `consumer` is a top-level function of the worker script: it connects, waits on the barrier,
    drains, and puts ``(ids, time.monotonic())`` on `results`.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(target=consumer, args=(barrier, results, *arguments)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(120)
    start = time.monotonic()
    finished = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    seen = [msg_id for ids, _ in finished for msg_id in ids]
    return max(end for _, end in finished) - start, seen


def serve(
    version: str,
    handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    close: Callable[[], Awaitable[None]],
) -> None:
    """Announce the peer's version, answer each request line until stdin closes, then `close`."""

    async def loop() -> None:
        print(json.dumps({"ready": True, "version": version}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            try:
                reply = await handle(request)
            except Exception as error:  # reported to the harness, which raises it as a failure
                reply = {"error": f"{type(error).__name__}: {error}"}
            print(json.dumps(reply), flush=True)
        await close()

    asyncio.run(loop())
    leave()


def leave(results: Any = None) -> None:
    """End this process once its output is out (a W5 consumer: its `results` queue flushed).

    Without interpreter finalization: the peers' native threads (the Rust bindings' runtime, a
    driver's pool) have aborted it with "PyGILState_Release" after the work was done.
    """
    if results is not None:
        results.close()
        results.join_thread()
    sys.stdout.flush()
    os._exit(0)

"""The fleet's worker app: one handler, a no-op or a 5 ms sleep, that records every invocation.

    pgqrs worker run topology_app:app --dsn ... --schema ...      (from deploy/topology/)

TOPOLOGY_QUEUE names the queue, TOPOLOGY_SLEEP_MS the handler's sleep (0: no-op), and
TOPOLOGY_LOG the file each invocation is appended to as one JSON line (flushed at once, so a
killed process loses at most a torn last line): the delivery checker reads them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pgqrs

QUEUE = os.environ.get("TOPOLOGY_QUEUE", "topology")
SLEEP = float(os.environ.get("TOPOLOGY_SLEEP_MS", "0")) / 1000
CONCURRENCY = int(os.environ.get("TOPOLOGY_CONCURRENCY", "10"))
_log = open(os.environ.get("TOPOLOGY_LOG", os.devnull), "a", buffering=1)  # noqa: SIM115

app = pgqrs.App()


@app.handler(QUEUE, concurrency=CONCURRENCY, lock_time=10)
async def handle(message: pgqrs.QueueMessage) -> None:
    """Do nothing, or sleep; record the invocation with the lease it ran under."""
    start = time.time()
    if SLEEP:
        await asyncio.sleep(SLEEP)
    payload = message.payload if isinstance(message.payload, dict) else {}
    record = {
        "id": message.id,
        "read_ct": message.read_ct,
        "key": payload.get("key"),
        "worker": message.worker_id,
        "pid": os.getpid(),
        "start": start,
        "end": time.time(),
    }
    _log.write(json.dumps(record) + "\n")

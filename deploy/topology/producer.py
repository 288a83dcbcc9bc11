"""A failover producer: enqueues through PgBouncer with a dedup key per message, and retries the
same key after any error until it is acknowledged, logging every acknowledgement.

    python producer.py --name p0 --seconds 20 --log acks.jsonl

Each acknowledged enqueue is one JSON line {"key", "id", "sent", "t", "attempts"} (wall clock
when the successful attempt was sent, and when its acknowledgement came back); each failed
attempt is {"key", "error", "t"}. After `OutcomeUnknown` the message may be written already:
the retry with its key returns it instead of writing it again (while it is live).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import TextIO

import servers

import pgqrs

QUEUE = "failover"
# After the run's time, a key still not acknowledged is given up this many seconds later.
_GRACE = 60.0


def config(dsn: str) -> pgqrs.Config:
    """The producers' settings: through PgBouncer (or the servers' multi-host DSN), a short deadline."""
    pooler = "transaction" if dsn == servers.BOUNCER_DSN else "none"
    return pgqrs.Config(dsn=dsn, schema=servers.SCHEMA, pooler=pooler, connection_timeout_seconds=5)


async def produce_keys(
    producer: pgqrs.Producer, name: str, deadline: float, pause: float, log: TextIO
) -> None:
    sequence = 0
    while time.monotonic() < deadline:
        key = f"{name}-{sequence}"
        attempts = 0
        while True:
            attempts += 1
            sent = time.time()
            try:
                message = await producer.enqueue({"key": key}, dedup_key=key)
            except pgqrs.PgqrsError as error:
                log.write(json.dumps({"key": key, "error": type(error).__name__, "t": time.time()}) + "\n")
                if time.monotonic() > deadline + _GRACE:
                    return
                await asyncio.sleep(0.1)
                continue
            ack = {"key": key, "id": message.id, "sent": sent, "t": time.time(), "attempts": attempts}
            log.write(json.dumps(ack) + "\n")
            break
        sequence += 1
        await asyncio.sleep(pause)


async def main(name: str, seconds: float, rate: float, tasks: int, path: str, dsn: str) -> None:
    settings = config(dsn)
    deadline = time.monotonic() + seconds
    with open(path, "a", buffering=1) as log:
        async with await pgqrs.PgqrsAdmin.connect(settings) as admin:
            producer = pgqrs.Producer(admin.pool, await admin.get_queue(QUEUE), settings)
            await asyncio.gather(
                *(
                    produce_keys(producer, f"{name}.{task}", deadline, tasks / rate, log)
                    for task in range(tasks)
                )
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=float, default=200, help="enqueues per second, at most")
    parser.add_argument("--tasks", type=int, default=4, help="enqueues in flight at once")
    parser.add_argument("--log", required=True)
    parser.add_argument("--dsn", default=servers.BOUNCER_DSN, help="default: through PgBouncer")
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.name, arguments.seconds, arguments.rate, arguments.tasks, arguments.log, arguments.dsn)
    )

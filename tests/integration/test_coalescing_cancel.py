"""Coalesced enqueues and asyncio cancellation (async API only: threads cannot be cancelled).

As in tests/integration/async/test_coalescing.py: a lock on the messages table holds the first
statements in flight, so the calls made after them queue, and go out together once one returns.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

import pgqrs
from pgqrs._async import _coalesce
from tests import support
from tests.reliability import harness

FLIGHTS = _coalesce.FLIGHTS
coalescing: Any = importlib.import_module("tests.integration.async.test_coalescing")
# The async API tests' fixtures (their package name is a keyword: imported by name).
fixtures: Any = importlib.import_module("tests.integration.async.conftest")
admin, queue, producer = fixtures.admin, fixtures.queue, fixtures.producer


async def settle(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def queue_calls(producer: pgqrs.Producer, count: int, first: int = 0) -> list[asyncio.Task[Any]]:
    """Start `count` enqueues one after the other, each once it has a flight or is queued."""
    coalescer = producer._coalescer
    tasks = []
    for index in range(first, first + count):
        tasks.append(asyncio.create_task(producer.enqueue({"call": index})))
        placed = len(tasks) + first
        await settle(
            lambda placed=placed: coalescer.flying + coalescer.queued == placed and not coalescer.gathering,
            f"call {index}",
        )
    return tasks


async def test_a_call_cancelled_while_queued_is_not_written(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, dsn: str, schema: str
) -> None:
    with support.connect(harness.derive_direct_dsn(dsn)) as locker, locker.transaction():
        coalescing.lock(locker, schema)
        tasks = await queue_calls(producer, FLIGHTS + 3)
        tasks[FLIGHTS + 1].cancel()
        await settle(lambda: producer._coalescer.queued == 2, "the cancelled call to leave the queue")
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[FLIGHTS + 1], asyncio.CancelledError)
    written = [result for index, result in enumerate(results) if index != FLIGHTS + 1]
    assert [message.payload["call"] for message in written] == [
        index for index in range(FLIGHTS + 3) if index != FLIGHTS + 1
    ]
    assert await admin.messages.count() == FLIGHTS + 2


async def test_a_leader_cancelled_mid_statement_leaves_the_others_an_unknown_outcome(
    producer: pgqrs.Producer, dsn: str, schema: str
) -> None:
    direct = harness.derive_direct_dsn(dsn)
    with support.connect(direct) as locker, locker.transaction():
        coalescing.lock(locker, schema)
        tasks = await queue_calls(producer, FLIGHTS + 3)
        await settle(lambda: len(coalescing.blocked_pids(direct, schema)) == FLIGHTS, "the first statements")
        # The first statements are cancelled on the server; the queued calls then share one,
        # led by the first of them, which is cancelled (asyncio) while that statement waits.
        with support.connect(direct) as signaller:
            signaller.execute(
                "SELECT pg_cancel_backend(pid) FROM unnest(%s::int[]) AS pid",
                (coalescing.blocked_pids(direct, schema),),
            )
        await settle(
            lambda: harness.blocked_backend(direct, schema, coalescing.COALESCED) is not None,
            "the shared statement",
        )
        tasks[FLIGHTS].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(result, pgqrs.DatabaseError) for result in results[:FLIGHTS])
    assert isinstance(results[FLIGHTS], asyncio.CancelledError)
    assert all(isinstance(result, pgqrs.OutcomeUnknown) for result in results[FLIGHTS + 1 :]), results
    assert (await producer.enqueue({"after": True})).payload == {"after": True}

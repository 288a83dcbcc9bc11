"""Wake-ups: an enqueue notifies the queue's workers (pgqrs._notify) when it commits, and only then.

Notifications arrive in commit order, so "nothing was sent" is checked without waiting: a marker
notified after the enqueue under test must be the next thing the listener receives.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

import pgqrs
from pgqrs import _notify

Connection = psycopg.AsyncConnection[tuple[Any, ...]]
MARKER = "marker"


@pytest.fixture
async def listener(dsn: str, config: pgqrs.Config) -> AsyncIterator[Connection]:
    """Return a connection listening on the pgqrs channel (impossible through a transaction pooler)."""
    if config.behind_transaction_pooler:
        pytest.skip("LISTEN needs a session of its own: not through a transaction pooler")
    connection = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await connection.execute(f"LISTEN {_notify.CHANNEL}")
    yield connection
    await connection.close()


@pytest.fixture
def slow_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """One notification per queue per hour: a second enqueue is always within the interval."""
    monkeypatch.setattr(_notify, "THROTTLE", _notify.Throttle(3600))


async def received(listener: Connection, raw: psycopg.Connection[Any], schema: str) -> list[str]:
    """Send a marker, then return the payloads received up to and including it (as MARKER).

    Wake-ups of other schemas and other tests' markers (tests running beside this one on the same
    database) are left out.
    """
    marker = f"{MARKER} {uuid.uuid4().hex}"
    raw.execute("SELECT pg_notify(%s, %s)", (_notify.CHANNEL, marker))
    payloads = []
    async for notification in listener.notifies(timeout=10):
        payload = notification.payload
        if payload == marker:
            payloads.append(MARKER)
            break
        wake = _notify.parse_wake(payload)
        if (wake is None and not payload.startswith(MARKER)) or (wake is not None and wake[0] == schema):
            payloads.append(payload)
    return payloads


async def test_an_enqueue_wakes_its_queue(
    listener: Connection, producer: pgqrs.Producer, queue: pgqrs.QueueInfo, raw: Any, slow_throttle: None
) -> None:
    await producer.enqueue({"n": 1})
    await producer.enqueue({"n": 2})  # within the interval: no second wake-up
    wake = _notify.wake_payload(queue.schema, queue.id)
    assert await received(listener, raw, queue.schema) == [wake, MARKER]
    assert _notify.parse_wake(wake) == (queue.schema, queue.id)


async def test_a_batch_sends_one_wake_up(
    listener: Connection, producer: pgqrs.Producer, queue: pgqrs.QueueInfo, raw: Any, slow_throttle: None
) -> None:
    await producer.batch_enqueue(list(range(50)), dedup_keys=[None, "a", *[None] * 48])
    wake = _notify.wake_payload(queue.schema, queue.id)
    assert await received(listener, raw, queue.schema) == [wake, MARKER]


async def test_the_callers_transaction_wakes_at_commit_and_never_on_rollback(
    dsn: str,
    listener: Connection,
    producer: pgqrs.Producer,
    queue: pgqrs.QueueInfo,
    raw: Any,
    slow_throttle: None,
) -> None:
    wake = _notify.wake_payload(queue.schema, queue.id)
    async with await psycopg.AsyncConnection.connect(dsn, prepare_threshold=None) as caller:
        await producer.enqueue("rolled back", connection=caller)
        await caller.rollback()
        assert await received(listener, raw, queue.schema) == [MARKER]
        await producer.enqueue("committed", connection=caller)
        raw.execute("SELECT pg_notify(%s, 'before the commit')", (_notify.CHANNEL,))
        await caller.commit()
        # A caller's transaction commits when it likes: each one wakes, throttle or not.
        await producer.enqueue("committed too", connection=caller)
        await caller.commit()
    assert await received(listener, raw, queue.schema) == ["before the commit", wake, wake, MARKER]

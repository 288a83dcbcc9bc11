"""Concurrent enqueues on one Producer share statements (group commit), each call still its own.

The calls run as tasks (async) or threads (the sync twin), started one after the other: each
is started once the previous one took a flight, queued, or failed. A lock on the messages table
holds the first FLIGHTS statements on the server, so the calls after them queue in call order
and go out together, in one statement, when a flight returns.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import pgqrs
from pgqrs._async import _coalesce, _compat
from tests import support
from tests.reliability import harness

FLIGHTS = _coalesce.FLIGHTS
# Every statement of the schema's message table that waits on a lock.
BLOCKED = (
    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active' "
    "AND position(%s in query) > 0"
)
# Only the coalesced statement names a per-row trace context.
COALESCED = "input.trace_context"


async def wait_for(predicate: Callable[[], bool], what: str) -> None:
    """Poll `predicate` while the calls run; fail after 30 s (a hang, not a slow run)."""
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await _compat.sleep(0.01)


def blocked_pids(direct_dsn: str, schema: str) -> list[int]:
    with support.connect(direct_dsn) as connection:
        return [row[0] for row in connection.execute(BLOCKED, (f'"{schema}".pgqrs_messages',))]


async def run(call: Callable[[], Any], index: int, results: dict[int, Any], dsn: str, schema: str) -> None:
    """Make one call; keep its message (and whether another connection sees it) or its error."""
    try:
        message = await call()
    except Exception as error:
        results[index] = error
        return
    seen = support.count(dsn, f'SELECT count(*) FROM "{schema}".pgqrs_messages WHERE id = %s', message.id)
    results[index] = (message, seen)


async def start(
    producer: pgqrs.Producer, calls: list[Callable[[], Any]], results: dict[int, Any], dsn: str, schema: str
) -> list[Any]:
    """Start the calls in order, each once the one before has a flight, is queued, or ended."""
    coalescer = producer._coalescer
    handles = []
    for index, call in enumerate(calls):
        handles.append(_compat.spawn(run, call, index, results, dsn, schema, name=f"call-{index}"))

        def placed(count: int = index + 1) -> bool:
            # Each call before it has a flight (and gathered what it carries), is queued, or ended.
            counted = coalescer.flying + coalescer.queued + len(results)
            return counted == count and coalescer.gathering == 0

        await wait_for(placed, f"call {index} to take a flight or queue")
    return handles


async def finish(handles: list[Any]) -> None:
    assert await _compat.join(handles, 60) == []


@pytest.fixture
def direct(dsn: str) -> str:
    return harness.derive_direct_dsn(dsn)


def lock(connection: psycopg.Connection[Any], schema: str) -> None:
    connection.execute(f'LOCK TABLE "{schema}".pgqrs_messages IN ACCESS EXCLUSIVE MODE')


async def test_each_call_gets_its_own_message_committed_in_call_order(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, dsn: str, direct: str, schema: str
) -> None:
    later = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
    calls: list[Callable[[], Any]] = [
        functools.partial(producer.enqueue, {"call": index}) for index in range(FLIGHTS)
    ]
    calls += [
        functools.partial(producer.enqueue, {"call": FLIGHTS}, priority=7),
        functools.partial(producer.enqueue_delayed, {"call": FLIGHTS + 1}, 30, priority=3),
        functools.partial(producer.enqueue_at, {"call": FLIGHTS + 2}, later),
        functools.partial(producer.enqueue, {"call": FLIGHTS + 3}),
        functools.partial(producer.enqueue, [FLIGHTS + 4, "a list"], priority=100),
    ]
    results: dict[int, Any] = {}
    with support.connect(direct) as locker, locker.transaction():
        lock(locker, schema)
        handles = await start(producer, calls, results, dsn, schema)
        assert producer._coalescer.queued == len(calls) - FLIGHTS
    await finish(handles)
    messages = [results[index][0] for index in range(len(calls))]
    # Committed when the call returned: another connection saw each message at once.
    assert [results[index][1] for index in range(len(calls))] == [1] * len(calls)
    for message in messages:
        assert await admin.messages.get(message.id) == message
    expected = [{"call": index} for index in range(len(calls) - 1)]
    assert [message.payload for message in messages[:-1]] == expected
    assert messages[-1].payload == [FLIGHTS + 4, "a list"]
    assert [message.priority for message in messages[FLIGHTS:]] == [7, 3, 0, 0, 100]
    delayed, scheduled = messages[FLIGHTS + 1], messages[FLIGHTS + 2]
    assert delayed.vt - delayed.enqueued_at == datetime.timedelta(seconds=30)
    assert scheduled.vt == later
    # The queued calls went out in one statement (one transaction time), ids in call order.
    coalesced = messages[FLIGHTS:]
    assert len({message.enqueued_at for message in coalesced}) == 1
    assert [message.id for message in coalesced] == sorted(message.id for message in coalesced)
    assert await admin.messages.count() == len(calls)


async def test_a_bad_payload_fails_only_its_own_call(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, dsn: str, direct: str, schema: str
) -> None:
    calls: list[Callable[[], Any]] = [
        functools.partial(producer.enqueue, {"call": index}) for index in range(FLIGHTS + 1)
    ]
    calls += [functools.partial(producer.enqueue, {"bad": float("nan")})]
    calls += [functools.partial(producer.enqueue, {"call": FLIGHTS + 2 + index}) for index in range(2)]
    results: dict[int, Any] = {}
    with support.connect(direct) as locker, locker.transaction():
        lock(locker, schema)
        handles = await start(producer, calls, results, dsn, schema)
    await finish(handles)
    bad = FLIGHTS + 1
    assert isinstance(results.pop(bad), pgqrs.ValidationError)
    assert sorted(results) == [index for index in range(len(calls)) if index != bad]
    for index, (message, seen) in results.items():
        assert (message.payload, seen) == ({"call": index}, 1)
    assert await admin.messages.count() == len(calls) - 1


async def test_dedup_keys_behave_as_alone(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, dsn: str, direct: str, schema: str
) -> None:
    keyed = [functools.partial(producer.enqueue, {"caller": index}, dedup_key="same") for index in range(2)]
    unkeyed = [functools.partial(producer.enqueue, {"call": index}) for index in range(FLIGHTS + 2)]
    results: dict[int, Any] = {}
    with support.connect(direct) as locker, locker.transaction():
        lock(locker, schema)
        # Keyed calls never wait for a flight: each runs at once, alone, and meets the lock.
        handles = [
            _compat.spawn(run, call, index, results, dsn, schema, name=f"keyed-{index}")
            for index, call in enumerate(keyed, start=len(unkeyed))
        ]

        def keyed_blocked() -> bool:
            return len(blocked_pids(direct, schema)) == len(keyed)

        await wait_for(keyed_blocked, "the keyed calls to reach the lock")
        # Meanwhile the producer coalesces the calls without a key.
        handles += await start(producer, unkeyed, results, dsn, schema)
    await finish(handles)
    first, second = results[len(unkeyed)][0], results[len(unkeyed) + 1][0]
    assert first.id == second.id
    assert first.dedup_key == second.dedup_key == "same"
    assert first.payload in ({"caller": 0}, {"caller": 1})
    assert second == first
    assert [results[index][0].payload for index in range(len(unkeyed))] == [
        {"call": index} for index in range(len(unkeyed))
    ]
    assert await admin.messages.count() == len(unkeyed) + 1


async def test_a_killed_connection_fails_every_call_of_its_statement(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, dsn: str, direct: str, schema: str
) -> None:
    calls: list[Callable[[], Any]] = [
        functools.partial(producer.enqueue, {"call": index}) for index in range(FLIGHTS + 4)
    ]
    results: dict[int, Any] = {}
    with support.connect(direct) as locker, locker.transaction():
        lock(locker, schema)
        handles = await start(producer, calls, results, dsn, schema)

        def leaders_blocked() -> bool:
            return len(blocked_pids(direct, schema)) == FLIGHTS

        await wait_for(leaders_blocked, "the first statements to reach the lock")
        # The first statements are lost; the queued calls then go out together, and that
        # statement's backend is terminated while it waits for the lock.
        assert harness.terminate(direct, blocked_pids(direct, schema)) == FLIGHTS

        def coalesced_blocked() -> bool:
            return harness.blocked_backend(direct, schema, COALESCED) is not None

        await wait_for(coalesced_blocked, "the coalesced statement to reach the lock")
        pid = harness.blocked_backend(direct, schema, COALESCED)
        assert pid is not None
        assert harness.terminate(direct, [pid]) == 1
    await finish(handles)
    errors = [results[index] for index in range(len(calls))]
    assert all(isinstance(error, pgqrs.OutcomeUnknown) for error in errors), errors
    # The queued calls shared one statement: each got that statement's error.
    assert len({id(error) for error in errors[FLIGHTS:]}) == 1
    assert await admin.messages.count() == 0
    assert (await producer.enqueue({"after": True})).payload == {"after": True}


async def test_a_failed_statement_fails_every_call_in_it_and_only_those(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, raw: Any, dsn: str, direct: str, schema: str
) -> None:
    # A row the server refuses (a trigger raises for it) fails the whole statement it is in.
    raw.execute(
        f'CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS '
        "$$ BEGIN IF NEW.payload ? 'refused' THEN RAISE EXCEPTION 'refused row'; END IF; "
        "RETURN NEW; END $$"
    )
    raw.execute(
        f'CREATE TRIGGER refuse BEFORE INSERT ON "{schema}".pgqrs_messages '
        f'FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()'
    )
    calls: list[Callable[[], Any]] = [
        functools.partial(producer.enqueue, {"call": index}) for index in range(FLIGHTS)
    ]
    calls += [
        functools.partial(producer.enqueue, {"call": FLIGHTS}),
        functools.partial(producer.enqueue, {"refused": True}),
        functools.partial(producer.enqueue, {"call": FLIGHTS + 2}),
    ]
    results: dict[int, Any] = {}
    with support.connect(direct) as locker, locker.transaction():
        lock(locker, schema)
        handles = await start(producer, calls, results, dsn, schema)
    await finish(handles)
    assert [results[index][0].payload for index in range(FLIGHTS)] == [{"call": i} for i in range(FLIGHTS)]
    failed = [results[index] for index in range(FLIGHTS, len(calls))]
    assert all(isinstance(error, pgqrs.DatabaseError) for error in failed), failed
    assert "refused row" in str(failed[0])
    assert len({id(error) for error in failed}) == 1  # the statement's error, raised to each
    assert await admin.messages.count() == FLIGHTS

"""Enqueue in the caller's transaction (the outbox pattern): psycopg and SQLAlchemy connections.

The message commits or rolls back with the caller's own rows; pgqrs never commits, rolls back or
changes the caller's connection. Caller connections never prepare statements here, so these
tests also run through a transaction pooler (a caller's transaction through PgBouncer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

import pgqrs
from tests import sqlalchemy_api

Caller = psycopg.AsyncConnection[tuple[Any, ...]]


@pytest.fixture
async def caller(dsn: str, admin: pgqrs.PgqrsAdmin) -> AsyncIterator[Caller]:
    """Return the application's own connection (not autocommit: every statement opens a
    transaction), with an `orders` table in the test's schema."""
    connection = await psycopg.AsyncConnection.connect(dsn, prepare_threshold=None)
    await connection.execute(f'CREATE TABLE "{admin.schema}".orders (id integer PRIMARY KEY)')
    await connection.commit()
    yield connection
    await connection.close()


async def count(admin: pgqrs.PgqrsAdmin) -> int:
    return await admin.messages.count()


async def test_rollback_leaves_nothing(
    caller: Caller, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    await caller.execute(f'INSERT INTO "{admin.schema}".orders VALUES (42)')
    message = await producer.enqueue({"order": 42}, connection=caller)
    await producer.batch_enqueue([1, 2], connection=caller)
    assert await count(admin) == 0  # not committed: invisible to others
    await caller.rollback()
    assert await count(admin) == 0
    with pytest.raises(pgqrs.MessageNotFound):
        await admin.messages.get(message.id)


async def test_commit_makes_the_message_visible_at_once(
    caller: Caller, producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    await caller.execute(f'INSERT INTO "{admin.schema}".orders VALUES (42)')
    message = await producer.enqueue({"order": 42}, connection=caller)
    assert await consumer.dequeue() is None
    await caller.commit()
    received = await consumer.dequeue()
    assert received is not None
    assert (received.id, received.payload) == (message.id, {"order": 42})


async def test_pgqrs_leaves_the_callers_connection_as_it_was(
    caller: Caller, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    await caller.execute(f'INSERT INTO "{admin.schema}".orders VALUES (1)')
    await producer.enqueue({"order": 1}, connection=caller)
    await producer.enqueue({"order": 1}, dedup_key="order-1", connection=caller)
    assert caller.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert not caller.autocommit
    cursor = await caller.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    assert await cursor.fetchone() == (1,)  # still usable, still its own transaction
    await caller.commit()
    assert await count(admin) == 2


async def test_savepoints_of_the_caller_work(
    caller: Caller, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    kept = await producer.enqueue("kept", connection=caller)
    with pytest.raises(RuntimeError):
        async with caller.transaction():
            await producer.enqueue("rolled back with the savepoint", connection=caller)
            raise RuntimeError
    async with caller.transaction():
        inner = await producer.enqueue("inner", connection=caller)
    await caller.commit()
    assert sorted(message.id for message in await admin.messages.list()) == [kept.id, inner.id]


async def test_a_bad_payload_raises_before_any_sql(
    caller: Caller, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    await caller.execute(f'INSERT INTO "{admin.schema}".orders VALUES (7)')
    with pytest.raises(pgqrs.ValidationError, match="NUL"):
        await producer.enqueue({"s": "nul\x00"}, connection=caller)
    with pytest.raises(pgqrs.ValidationError, match="item 1"):
        await producer.batch_enqueue([1, float("nan")], connection=caller)
    with pytest.raises(pgqrs.ValidationError, match="priority"):
        await producer.enqueue(1, priority=101, connection=caller)
    # The caller's transaction is intact: its row and a message commit together.
    await producer.enqueue({"order": 7}, connection=caller)
    await caller.commit()
    assert await count(admin) == 1


async def test_outside_a_transaction_block_each_enqueue_commits(
    dsn: str, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, prepare_threshold=None) as caller:
        await producer.enqueue("alone", connection=caller)
        assert caller.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert await count(admin) == 1
        async with caller.transaction(force_rollback=True):
            await producer.enqueue("in a block", connection=caller)
        assert caller.autocommit
    assert await count(admin) == 1


async def test_a_connection_of_the_other_api_is_refused(producer: pgqrs.Producer, dsn: str) -> None:
    with pytest.raises(pgqrs.ValidationError, match="connection must be"):
        await producer.enqueue(1, connection=object())
    with pytest.raises(pgqrs.ValidationError, match="connection must be"):
        await producer.enqueue(1, connection=dsn)


async def test_sqlalchemy_session_commit_and_rollback(
    dsn: str, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    engine = sqlalchemy_api.create_async_engine(
        sqlalchemy_api.url(dsn), connect_args={"prepare_threshold": None}
    )
    orders = sqlalchemy_api.text(f'CREATE TABLE "{admin.schema}".orders (id integer)')
    insert = sqlalchemy_api.text(f'INSERT INTO "{admin.schema}".orders VALUES (1)')
    try:
        async with sqlalchemy_api.AsyncSession(engine) as session:
            await session.execute(orders)
            await session.commit()
            await session.execute(insert)
            await producer.enqueue("rolled back", connection=session)
            await session.rollback()
            await session.execute(insert)
            committed = await producer.enqueue("committed", connection=session)
            await session.commit()
        assert [message.id for message in await admin.messages.list()] == [committed.id]
    finally:
        await engine.dispose()


async def test_sqlalchemy_connection_commit_and_rollback(
    dsn: str, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    engine = sqlalchemy_api.create_async_engine(
        sqlalchemy_api.url(dsn), connect_args={"prepare_threshold": None}
    )
    try:
        async with engine.connect() as connection:
            await producer.batch_enqueue(["rolled", "back"], connection=connection)
            await connection.rollback()
            committed = await producer.batch_enqueue(["committed"], connection=connection)
            await connection.commit()
        assert [message.id for message in await admin.messages.list()] == [committed[0].id]
    finally:
        await engine.dispose()

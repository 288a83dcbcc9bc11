"""Idempotent enqueue: at most one live message per queue and dedup key."""

from __future__ import annotations

import psycopg
import pytest

import pgqrs


async def test_a_live_key_writes_nothing_and_returns_its_message(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    first = await producer.enqueue({"order": 42}, dedup_key="order-42", priority=3)
    again = await producer.enqueue({"order": "changed"}, dedup_key="order-42")
    delayed = await producer.enqueue_delayed({"order": 0}, 60, dedup_key="order-42")
    assert first == again == delayed == await admin.messages.get(first.id)
    assert (first.payload, first.priority, first.dedup_key) == ({"order": 42}, 3, "order-42")
    assert await admin.messages.count() == 1


async def test_a_leased_message_is_still_live(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    sent = await producer.enqueue("job", dedup_key="k")
    leased = await consumer.dequeue(lock_time=60)
    assert leased is not None
    again = await producer.enqueue("job", dedup_key="k")
    assert again.id == sent.id
    assert (again.read_ct, again.worker_id) == (1, consumer.worker_id)


@pytest.mark.parametrize("acknowledge", ["archive", "delete"])
async def test_the_key_is_free_again_once_acknowledged(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, acknowledge: str
) -> None:
    sent = await producer.enqueue("job", dedup_key="k")
    leased = await consumer.dequeue()
    assert leased is not None
    assert await getattr(consumer, acknowledge)(leased.id)
    again = await producer.enqueue("job", dedup_key="k")
    assert again.id != sent.id


async def test_keys_belong_to_their_queue(admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer) -> None:
    other = pgqrs.Producer(admin.pool, await admin.create_queue("other"), admin.config)
    assert (await producer.enqueue(1, dedup_key="k")).id != (await other.enqueue(1, dedup_key="k")).id


async def test_a_batch_with_keys(producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin) -> None:
    live = await producer.enqueue("live", dedup_key="b")
    messages = await producer.batch_enqueue(
        ["a", "b?", "none", "a again", "none 2"], dedup_keys=["a", "b", None, "a", None], priority=5
    )
    assert [message.payload for message in messages] == ["a", "live", "none", "a", "none 2"]
    assert messages[1] == live
    assert messages[0] == messages[3]
    assert [message.dedup_key for message in messages] == ["a", "b", None, "a", None]
    assert messages[0].priority == messages[2].priority == 5
    assert await admin.messages.count() == 4
    for message in (messages[0], messages[2], messages[4]):
        assert await admin.messages.get(message.id) == message


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (["a", ""], "non-empty"),
        (["a", 7], "item 1"),
        (["a", "b\x00"], "NUL"),
        (["a", "x" * 513], "over 512"),
        (["a"], "1 keys for 2 payloads"),
        ("ab", "not a single string"),
    ],
)
async def test_bad_keys_write_nothing(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, keys: object, reason: str
) -> None:
    with pytest.raises(pgqrs.ValidationError, match=reason):
        await producer.batch_enqueue([1, 2], dedup_keys=keys)  # type: ignore[arg-type]
    assert await admin.messages.count() == 0


async def test_a_key_in_the_callers_transaction(
    dsn: str, producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, prepare_threshold=None) as caller:
        first = await producer.enqueue("x", dedup_key="k", connection=caller)
        assert (await producer.enqueue("y", dedup_key="k", connection=caller)).id == first.id
        await caller.rollback()
        kept = await producer.enqueue("z", dedup_key="k", connection=caller)
        await caller.commit()
    assert (await producer.enqueue("w", dedup_key="k")).id == kept.id
    assert await admin.messages.count() == 1

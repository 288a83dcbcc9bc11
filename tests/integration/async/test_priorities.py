"""Priorities and scheduled times: highest priority first, then visibility order (vt, then id)."""

from __future__ import annotations

import datetime

import pytest

import pgqrs


async def test_the_highest_priority_is_leased_first(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    low = await producer.enqueue("low")
    normal = await producer.batch_enqueue(["n1", "n2"], priority=1)
    urgent = await producer.enqueue("urgent", priority=100)
    high = await producer.batch_enqueue(["h1", "h2"], priority=5)
    expected = [urgent, *high, *normal, low]
    assert [message.id for message in await admin.messages.filter_by_fk(producer.queue_info.id)] == [
        message.id for message in expected
    ]
    first = await consumer.dequeue_batch(2)
    rest = await consumer.dequeue_batch(10)
    assert [message.id for message in first + rest] == [message.id for message in expected]
    assert [message.priority for message in first + rest] == [100, 5, 5, 1, 1, 0]


async def test_a_delayed_high_priority_does_not_hold_back_the_visible_ones(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    await producer.batch_enqueue(list(range(20)), delay=3600, priority=9)
    visible = await producer.enqueue("visible", priority=2)
    await producer.enqueue_delayed("later", 3600, priority=2)
    leased = await consumer.dequeue_batch(10)
    assert [message.id for message in leased] == [visible.id]
    assert await consumer.dequeue() is None


async def test_a_batch_fills_from_several_priorities(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    await producer.batch_enqueue(["a", "b"], priority=2)
    await producer.batch_enqueue(["c", "d"], priority=1)
    await producer.batch_enqueue(["e", "f"], priority=0)
    leased = await consumer.dequeue_batch(5)
    assert [message.payload for message in leased] == ["a", "b", "c", "d", "e"]


async def test_priorities_with_a_message_type(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    await producer.enqueue({"type": "email", "n": 1})
    await producer.enqueue({"type": "sms", "n": 2}, priority=7)
    await producer.enqueue({"type": "email", "n": 3}, priority=7)
    await producer.enqueue_delayed({"type": "email", "n": 4}, 3600, priority=9)
    leased = await consumer.dequeue_batch(10, message_type="email")
    assert [message.payload["n"] for message in leased] == [3, 1]


@pytest.mark.parametrize("priority", [101, -1, 1.5, True, "1", None])
async def test_a_bad_priority_is_refused(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, priority: object
) -> None:
    with pytest.raises(pgqrs.ValidationError, match="priority must be an integer from 0 to 100"):
        await producer.enqueue(1, priority=priority)  # type: ignore[arg-type]
    with pytest.raises(pgqrs.ValidationError, match="priority"):
        await producer.batch_enqueue([1], priority=priority)  # type: ignore[arg-type]
    assert await admin.messages.count() == 0


async def test_enqueue_at_a_time(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    later = await producer.enqueue_at("later", now + datetime.timedelta(hours=1))
    assert later.vt == now + datetime.timedelta(hours=1)
    past = await producer.enqueue_at("past", now - datetime.timedelta(hours=1))
    batch = await producer.batch_enqueue(["b"], at=now + datetime.timedelta(days=1))
    assert batch[0].vt == now + datetime.timedelta(days=1)
    leased = await consumer.dequeue_batch(10)
    assert [message.id for message in leased] == [past.id]


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (datetime.datetime(2030, 1, 1), "time zone aware"),
        ("2030-01-01T00:00:00Z", "must be a datetime"),
        (datetime.date(2030, 1, 1), "must be a datetime"),
    ],
)
async def test_a_bad_time_is_refused(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, when: object, reason: str
) -> None:
    with pytest.raises(pgqrs.ValidationError, match=reason):
        await producer.enqueue_at(1, when)  # type: ignore[arg-type]
    with pytest.raises(pgqrs.ValidationError, match=reason):
        await producer.batch_enqueue([1], at=when)  # type: ignore[arg-type]
    with pytest.raises(pgqrs.ValidationError, match="not both"):
        await producer.batch_enqueue([1], 5, at=datetime.datetime.now(datetime.timezone.utc))
    assert await admin.messages.count() == 0

"""Producer against a real PostgreSQL: enqueue, batches, delays, validation, rate limit."""

from __future__ import annotations

import datetime
import math
import time

import pytest

import pgqrs


async def test_enqueue_returns_the_stored_message(
    producer: pgqrs.Producer, queue: pgqrs.QueueInfo, admin: pgqrs.PgqrsAdmin
) -> None:
    message = await producer.enqueue({"task": "email", "to": ["a", "b"], "n": 1.5, "ok": None})
    assert await admin.messages.get(message.id) == message
    batch = await producer.batch_enqueue([{"i": 1}, [2, "two"], "three", 4.5], delay=30)
    assert [await admin.messages.get(item.id) for item in batch] == batch
    assert message.queue_id == queue.id
    assert message.payload == {"task": "email", "to": ["a", "b"], "n": 1.5, "ok": None}
    assert (message.read_ct, message.dequeued_at, message.worker_id) == (0, None, None)
    assert message.vt == message.enqueued_at


@pytest.mark.parametrize("payload", [None, 0, -7, 2**62, "text", [], {}, [1, "two", {"3": [4]}], True])
async def test_any_json_value_round_trips(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, payload: object
) -> None:
    sent = await producer.enqueue(payload)
    received = await consumer.dequeue()
    assert received is not None
    assert (received.id, received.payload) == (sent.id, payload)


async def test_batch_enqueue_keeps_input_order(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    payloads = [{"i": i} for i in range(250)]
    messages = await producer.batch_enqueue(payloads)
    assert [message.payload for message in messages] == payloads
    ids = [message.id for message in messages]
    assert ids == sorted(ids)
    received = await consumer.dequeue_batch(250)
    assert [message.id for message in received] == ids


async def test_batch_enqueue_of_nothing(producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin) -> None:
    assert await producer.batch_enqueue([]) == []
    assert await admin.messages.count() == 0


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (float("nan"), "not valid JSON"),
        (math.inf, "not valid JSON"),
        ({"s": "nul\x00here"}, "NUL"),
        ({"s": "\ud800"}, "surrogate"),
        ({"when": datetime.datetime(2024, 1, 1)}, "not valid JSON"),
        ({1, 2}, "not valid JSON"),
        (b"bytes", "not valid JSON"),
        ("x" * 2000, "over max_payload_bytes"),
    ],
)
async def test_bad_payload_in_a_batch_writes_nothing(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, bad: object, reason: str
) -> None:
    producer = pgqrs.Producer(admin.pool, queue, admin.config.replace(max_payload_bytes=1000))
    with pytest.raises(pgqrs.ValidationError, match=reason) as caught:
        await producer.batch_enqueue([{"fine": 1}, bad, {"fine": 2}])
    assert "item 1" in str(caught.value)
    with pytest.raises(pgqrs.ValidationError, match=reason):
        await producer.enqueue(bad)
    assert await admin.messages.count() == 0


async def test_escaped_backslash_u0000_text_is_not_a_nul(producer: pgqrs.Producer) -> None:
    message = await producer.enqueue({"s": "\\u0000 is how JSON writes NUL"})
    assert message.payload == {"s": "\\u0000 is how JSON writes NUL"}


async def test_payload_size_limit_counts_utf8_bytes(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    producer = pgqrs.Producer(admin.pool, queue, admin.config.replace(max_payload_bytes=10))
    await producer.enqueue("ééé")  # "ééé" with quotes: 8 bytes
    with pytest.raises(pgqrs.ValidationError, match="12 bytes"):
        await producer.enqueue("ééééé")


async def test_payloads_must_be_a_sequence(producer: pgqrs.Producer) -> None:
    with pytest.raises(pgqrs.ValidationError):
        await producer.batch_enqueue("not a list")  # type: ignore[arg-type]


async def test_delayed_message_is_invisible_until_its_delay_passes(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    delayed = await producer.enqueue_delayed({"later": 1}, datetime.timedelta(seconds=1))
    assert (delayed.vt - delayed.enqueued_at).total_seconds() == pytest.approx(1, abs=0.01)
    assert await consumer.dequeue() is None
    time.sleep(1.1)
    received = await consumer.dequeue()
    assert received is not None
    assert received.id == delayed.id


async def test_delayed_message_takes_its_place_by_visibility(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    late = await producer.enqueue_delayed("late", 0.5)
    early = await producer.enqueue("early")
    time.sleep(0.6)
    after = await producer.enqueue("after")
    assert [message.id for message in await consumer.dequeue_batch(10)] == [early.id, late.id, after.id]


async def test_batch_enqueue_with_delay(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    await producer.batch_enqueue([1, 2], delay=60)
    assert await consumer.dequeue_batch(10) == []


@pytest.mark.parametrize("delay", [-1, float("nan"), "5", None])
async def test_bad_delay_is_refused(producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, delay: object) -> None:
    with pytest.raises(pgqrs.ValidationError, match="delay"):
        await producer.enqueue_delayed({"x": 1}, delay)
    assert await admin.messages.count() == 0


async def test_producer_extend_visibility(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    message = await producer.enqueue({"x": 1})
    assert await producer.extend_visibility(message.id, 3600)
    assert await consumer.dequeue() is None
    stored = await admin.messages.get(message.id)
    assert (stored.vt - message.vt).total_seconds() >= 3599
    assert not await producer.extend_visibility(message.id + 999, 10)


async def test_enqueue_on_a_deleted_queue(admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer) -> None:
    await admin.delete_queue("jobs")
    with pytest.raises(pgqrs.QueueNotFound):
        await producer.enqueue({"x": 1})
    with pytest.raises(pgqrs.QueueNotFound):
        await producer.batch_enqueue([1, 2])


async def test_rate_limit_waits_instead_of_failing(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    producer = pgqrs.Producer(admin.pool, queue, admin.config.replace(producer_rate_limit=20))
    started = time.monotonic()
    for index in range(30):
        await producer.enqueue(index)
    # A burst of 20 goes at once, the other 10 at 20/s: at least 0.5 s in all.
    assert time.monotonic() - started >= 0.45
    assert await admin.messages.count() == 30


async def test_producer_on_a_custom_schema_without_config(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    assert admin.schema != "public"
    message = await pgqrs.Producer(admin.pool, queue).enqueue({"x": 1})
    assert (await admin.messages.get(message.id)).payload == {"x": 1}


async def test_a_delay_past_a_century_is_refused_before_any_sql(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    """Past PostgreSQL's timestamps the statement would fail, and with it every enqueue that the
    group commit put in the same statement: the bad call alone must fail, typed."""
    with pytest.raises(pgqrs.ValidationError, match="delay must be at most 100 years"):
        await producer.enqueue_delayed("late", 1e13)
    with pytest.raises(pgqrs.ValidationError, match="at most 100 years"):
        await producer.enqueue_delayed("late", datetime.timedelta(days=40_000))
    assert await admin.messages.count() == 0

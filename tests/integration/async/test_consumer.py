"""Consumer against a real PostgreSQL: leases, order, ownership of acknowledgements, dead letters."""

from __future__ import annotations

import datetime
import os
import socket
import time

import pytest
from psycopg import conninfo

import pgqrs
from tests import support


async def test_dequeue_leases_in_visibility_order(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    sent = await producer.batch_enqueue(["a", "b", "c"])
    first = await consumer.dequeue(lock_time=30)
    assert first is not None
    assert (first.id, first.read_ct, first.worker_id) == (sent[0].id, 1, consumer.worker_id)
    assert first.dequeued_at is not None
    assert (first.vt - first.dequeued_at).total_seconds() == pytest.approx(30, abs=0.01)
    rest = await consumer.dequeue_batch(10)
    assert [message.id for message in rest] == [sent[1].id, sent[2].id]
    assert await consumer.dequeue() is None


async def test_empty_queue(consumer: pgqrs.Consumer) -> None:
    assert await consumer.dequeue() is None
    assert await consumer.dequeue_batch() == []


async def test_default_batch_size_comes_from_config(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    await pgqrs.Producer(admin.pool, queue).batch_enqueue(list(range(12)))
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config.replace(default_max_batch_size=5))
    assert len(await consumer.dequeue_batch()) == 5


async def test_default_lock_time_comes_from_config(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    await pgqrs.Producer(admin.pool, queue).enqueue(1)
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config.replace(default_lock_time_seconds=42))
    message = await consumer.dequeue()
    assert message is not None
    assert message.dequeued_at is not None
    assert (message.vt - message.dequeued_at).total_seconds() == pytest.approx(42, abs=0.01)


@pytest.mark.parametrize(("size", "lock_time"), [(0, 1), (-1, 1), (1, -1), (1, "soon"), (True, 1)])
async def test_bad_dequeue_arguments(consumer: pgqrs.Consumer, size: object, lock_time: object) -> None:
    with pytest.raises(pgqrs.ValidationError):
        await consumer.dequeue_batch(size, lock_time)  # type: ignore[arg-type]


async def test_two_consumers_never_get_the_same_message(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, producer: pgqrs.Producer
) -> None:
    await producer.batch_enqueue(list(range(10)))
    first = pgqrs.Consumer(admin.pool, queue)
    second = pgqrs.Consumer(admin.pool, queue)
    taken_first = await first.dequeue_batch(6, lock_time=30)
    taken_second = await second.dequeue_batch(6, lock_time=30)
    ids_first = {message.id for message in taken_first}
    ids_second = {message.id for message in taken_second}
    assert len(ids_first) == 6
    assert len(ids_second) == 4
    assert not ids_first & ids_second


async def test_skip_locked_passes_rows_another_transaction_holds(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, dsn: str, schema: str
) -> None:
    sent = await producer.batch_enqueue([1, 2])
    with support.connect(dsn) as holder, holder.transaction():
        holder.execute(f'SELECT 1 FROM "{schema}".pgqrs_messages WHERE id = %s FOR UPDATE', (sent[0].id,))
        taken = await consumer.dequeue_batch(10)
        assert [message.id for message in taken] == [sent[1].id]


async def test_expired_lease_is_delivered_again(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    sent = await producer.enqueue({"job": 1})
    first = await consumer.dequeue(lock_time=0.3)
    assert first is not None
    assert await consumer.dequeue() is None
    time.sleep(0.4)
    other = pgqrs.Consumer(admin.pool, queue)
    again = await other.dequeue(lock_time=30)
    assert again is not None
    assert (again.id, again.read_ct, again.worker_id) == (sent.id, 2, other.worker_id)


async def test_only_the_lease_holder_can_acknowledge(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    sent = await producer.enqueue({"job": 1})
    zombie = pgqrs.Consumer(admin.pool, queue)
    holder = pgqrs.Consumer(admin.pool, queue)
    assert await zombie.dequeue(lock_time=0.2) is not None
    time.sleep(0.3)
    taken = await holder.dequeue(lock_time=30)
    assert taken is not None
    before = await admin.messages.get(sent.id)
    assert await zombie.delete(sent.id) is False
    assert await zombie.archive(sent.id) is False
    assert await zombie.extend_visibility(sent.id, 100) is False
    assert await zombie.delete_batch([sent.id]) == [False]
    assert await zombie.archive_batch([sent.id]) == [False]
    assert await admin.messages.get(sent.id) == before
    assert await holder.archive(sent.id) is True
    assert await admin.archive.count() == 1
    assert await admin.messages.count() == 0


async def test_a_consumer_of_another_queue_cannot_acknowledge(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    sent = await producer.enqueue(1)
    assert await consumer.dequeue() is not None
    stranger = pgqrs.Consumer(admin.pool, await admin.create_queue("other"))
    await stranger.register()
    assert await stranger.delete(sent.id) is False
    assert await consumer.delete(sent.id) is True


async def test_a_consumer_that_never_dequeued_holds_nothing(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    sent = await producer.enqueue(1)
    assert await pgqrs.Consumer(admin.pool, queue).delete(sent.id) is False
    assert await admin.messages.count() == 1


async def test_delete_batch_results_align_with_input(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    sent = await producer.batch_enqueue([1, 2, 3])
    taken = await consumer.dequeue_batch(2)
    ids = [sent[2].id, taken[1].id, 987654, taken[0].id]
    assert await consumer.delete_batch(ids) == [False, True, False, True]
    assert [message.id for message in await admin.messages.list()] == [sent[2].id]
    assert await consumer.delete_batch([]) == []


async def test_archive_moves_the_row_atomically(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    sent = await producer.batch_enqueue([{"n": 1}, {"n": 2}, {"n": 3}])
    taken = await consumer.dequeue_batch(3)
    assert await consumer.archive_batch([taken[2].id, 424242, taken[0].id]) == [True, False, True]
    assert await consumer.archive(taken[0].id) is False
    archived = await admin.archive.filter_by_fk(taken[0].queue_id)
    assert sorted(record.original_msg_id for record in archived) == [sent[0].id, sent[2].id]
    record = await admin.archive.get_by_original_id(taken[0].queue_id, sent[0].id)
    assert record.payload == {"n": 1}
    assert (record.read_ct, record.worker_id) == (1, consumer.worker_id)
    assert record.enqueued_at == sent[0].enqueued_at
    assert record.dequeued_at == taken[0].dequeued_at
    assert record.processing_duration is not None
    assert record.processing_duration >= 0
    assert record.archived_at >= record.dequeued_at
    assert [message.id for message in await admin.messages.list()] == [sent[1].id]


async def test_extend_visibility_keeps_the_lease(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    await producer.enqueue(1)
    taken = await consumer.dequeue(lock_time=0.3)
    assert taken is not None
    assert await consumer.extend_visibility(taken.id, datetime.timedelta(seconds=30))
    time.sleep(0.4)
    assert await pgqrs.Consumer(admin.pool, queue).dequeue() is None
    stored = await admin.messages.get(taken.id)
    assert (stored.vt - taken.vt).total_seconds() == pytest.approx(30, abs=0.5)
    assert await consumer.delete(taken.id)


async def test_consumer_registers_as_a_worker_and_stops_on_close(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, producer: pgqrs.Producer
) -> None:
    await producer.enqueue(1)
    async with pgqrs.Consumer(admin.pool, queue) as consumer:
        assert consumer.worker_id is None
        message = await consumer.dequeue()
        assert message is not None
        worker = await admin.get_worker(message.worker_id or 0)
        assert (worker.hostname, worker.pid, worker.queue_id) == (socket.gethostname(), os.getpid(), queue.id)
        assert worker.status == "running"
    assert (await admin.get_worker(worker.id)).status == "stopped"


async def test_heartbeat_re_registers_a_removed_worker(
    admin: pgqrs.PgqrsAdmin, consumer: pgqrs.Consumer
) -> None:
    first = await consumer.register()
    before = (await admin.get_worker(first.id)).heartbeat_at
    await consumer.heartbeat()
    assert (await admin.get_worker(first.id)).heartbeat_at >= before
    assert await admin.workers.delete(first.id)
    await consumer.heartbeat()
    assert consumer.worker_id is not None
    assert consumer.worker_id != first.id


async def test_poison_message_is_dead_lettered_after_max_read_count(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    producer = pgqrs.Producer(admin.pool, queue)
    poison = await producer.enqueue({"poison": True})
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config.replace(max_read_count=2))
    for delivery in (1, 2):
        message = await consumer.dequeue(lock_time=0)
        assert message is not None
        assert (message.id, message.read_ct) == (poison.id, delivery)
    healthy = await producer.enqueue({"healthy": True})
    message = await consumer.dequeue(lock_time=0)
    assert message is not None
    assert message.id == healthy.id
    record = await admin.archive.get_by_original_id(queue.id, poison.id)
    assert record.read_ct == 2
    assert record.dead_letter_reason is not None
    assert "max_read_count = 2" in record.dead_letter_reason
    assert (await admin.queue_metrics("jobs")).dead_letter_count == 1


async def test_a_poison_message_leased_but_never_buried_is_buried_by_the_next_dequeue(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str
) -> None:
    # As if a consumer leased it past max_read_count and died before its burial statement.
    poison = await pgqrs.Producer(admin.pool, queue).enqueue({"poison": True})
    with support.connect(dsn) as raw:
        raw.execute(
            f'UPDATE "{admin.schema}".pgqrs_messages SET read_ct = 3, vt = now() WHERE id = %s',
            (poison.id,),
        )
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config.replace(max_read_count=2))
    assert await consumer.dequeue() is None
    record = await admin.archive.get_by_original_id(queue.id, poison.id)
    assert record.dead_letter_reason is not None
    assert (await admin.queue_metrics("jobs")).total_messages == 0


async def test_max_read_count_zero_never_dead_letters(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    await pgqrs.Producer(admin.pool, queue).enqueue(1)
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config.replace(max_read_count=0))
    for delivery in range(1, 8):
        message = await consumer.dequeue(lock_time=0)
        assert message is not None
        assert message.read_ct == delivery


async def test_consumer_on_a_custom_schema_without_config(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, producer: pgqrs.Producer
) -> None:
    assert admin.schema != "public"
    sent = await producer.enqueue({"x": 1})
    consumer = pgqrs.Consumer(admin.pool, queue)
    message = await consumer.dequeue()
    assert message is not None
    assert message.id == sent.id
    assert await consumer.archive(message.id)


@pytest.mark.parametrize("bad", [0, -3, "7", 2**63, True, None])
async def test_bad_message_ids_are_refused(consumer: pgqrs.Consumer, bad: object) -> None:
    with pytest.raises(pgqrs.ValidationError, match="message id"):
        await consumer.delete(bad)  # type: ignore[arg-type]


async def test_release_gives_messages_back_without_counting_the_delivery(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    sent = await producer.batch_enqueue([1, 2])
    taken = await consumer.dequeue_batch(2, lock_time=60)
    assert await consumer.release_batch([taken[1].id, 99999]) == [True, False]
    other = pgqrs.Consumer(admin.pool, queue)
    again = await other.dequeue_batch(10)
    assert [(message.id, message.read_ct) for message in again] == [(sent[1].id, 1)]
    assert await consumer.release(taken[1].id) is False
    assert await consumer.release(taken[0].id) is True


async def test_dequeue_filters_on_the_payload_type(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    sent = await producer.batch_enqueue([{"type": "email"}, {"type": "sms"}, "plain", {"type": "email"}])
    emails = await consumer.dequeue_batch(10, message_type="email")
    assert [message.id for message in emails] == [sent[0].id, sent[3].id]
    untouched = await admin.messages.get(sent[1].id)
    assert (untouched.read_ct, untouched.worker_id) == (0, None)
    assert [message.id for message in await consumer.dequeue_batch(10)] == [sent[1].id, sent[2].id]


async def test_payloads_come_back_exactly_whatever_their_numbers(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    # Decoding takes a fast path (orjson) except where it would change a value.
    payloads = [
        {"big": 123456789012345678901234567890, "negative": -(2**63) - 1},
        {"float": 0.1, "tiny": 2.5e-8, "text": "café 😀"},
        {"id": 7, "kind": "plain"},
    ]
    await producer.batch_enqueue(payloads)
    received = [message.payload for message in await consumer.dequeue_batch(10)]
    assert received == payloads
    assert isinstance(received[0]["big"], int)


async def test_a_lease_is_elapsed_time_even_across_a_dst_change(config: pgqrs.Config) -> None:
    if config.behind_transaction_pooler:
        pytest.skip("a session time zone is a startup option, which a transaction pooler refuses")
    # 300 days cross exactly one change of Paris time from any date. A lease added as calendar
    # days ('300 days') would keep the wall clock and so last an hour more or less.
    paris = config.replace(dsn=conninfo.make_conninfo(config.dsn, options="-c TimeZone=Europe/Paris"))
    async with await pgqrs.PgqrsAdmin.connect(paris) as admin:
        await admin.install()
        queue = await admin.create_queue("paris")
        await pgqrs.Producer(admin.pool, queue, paris).enqueue(1)
        consumer = pgqrs.Consumer(admin.pool, queue, paris)
        message = await consumer.dequeue(lock_time=datetime.timedelta(days=300))
        await consumer.close()
    assert message is not None and message.dequeued_at is not None
    assert str(message.vt.tzinfo) == "Europe/Paris"  # the session's zone did apply
    utc = datetime.timezone.utc
    assert message.vt.astimezone(utc) - message.dequeued_at.astimezone(utc) == datetime.timedelta(days=300)


async def test_lease_end_is_exact_to_the_microsecond(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    await producer.enqueue(1)
    message = await consumer.dequeue(lock_time=datetime.timedelta(seconds=2, microseconds=345678))
    assert message is not None and message.dequeued_at is not None
    assert message.vt - message.dequeued_at == datetime.timedelta(seconds=2, microseconds=345678)

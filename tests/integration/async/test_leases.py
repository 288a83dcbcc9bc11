"""Leases, workers and heartbeats: release with a delay, stale workers, removed workers, metrics."""

from __future__ import annotations

import datetime

import psycopg
import pytest

import pgqrs

Raw = psycopg.Connection[tuple[object, ...]]


def seconds_until_visible(raw: Raw, schema: str, msg_id: int) -> float:
    row = raw.execute(
        f'SELECT extract(epoch FROM vt - now()) FROM "{schema}".pgqrs_messages WHERE id = %s', (msg_id,)
    ).fetchone()
    assert row is not None
    return float(str(row[0]))


async def test_release_with_a_delay_counts_the_delivery_only_when_asked(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, consumer: pgqrs.Consumer, raw: Raw
) -> None:
    first, second = await producer.batch_enqueue([{"n": 1}, {"n": 2}])
    leased = await consumer.dequeue_batch(2, lock_time=60)
    assert [message.read_ct for message in leased] == [1, 1]
    assert await consumer.release(first.id, delay=30, count_delivery=True)
    assert await consumer.release(second.id, delay=datetime.timedelta(seconds=30))
    for message_id, read_ct in ((first.id, 1), (second.id, 0)):
        stored = await admin.messages.get(message_id)
        # Visible again in 30 s by the database clock, held by nobody, the delivery counted or not.
        assert 28 < seconds_until_visible(raw, admin.schema, message_id) <= 30
        assert (stored.read_ct, stored.worker_id, stored.dequeued_at) == (read_ct, None, None)
    metrics = await admin.queue_metrics("jobs")
    assert (metrics.pending_count, metrics.locked_count, metrics.delayed_count) == (0, 0, 2)
    # No longer held: the consumer can neither acknowledge nor release it again.
    assert await consumer.delete_batch([first.id, second.id]) == [False, False]
    assert await consumer.release(first.id) is False


async def test_release_at_once_and_negative_delays(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    sent = await producer.enqueue({"n": 1})
    assert await consumer.dequeue(lock_time=60) is not None
    with pytest.raises(pgqrs.ValidationError, match="delay"):
        await consumer.release(sent.id, delay=-1)
    assert await consumer.release(sent.id)
    again = await consumer.dequeue()
    assert again is not None and again.id == sent.id and again.read_ct == 1


async def test_an_id_given_twice_is_acknowledged_once(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    await producer.batch_enqueue([{"n": n} for n in range(3)])
    first, second, third = await consumer.dequeue_batch(3)
    assert await consumer.delete_batch([first.id, first.id, 999_999]) == [True, False, False]
    assert await consumer.archive_batch([second.id, second.id]) == [True, False]
    assert await consumer.release_batch([third.id, third.id]) == [True, False]
    assert await consumer.extend_visibility_batch([third.id], 5) == [False]


async def test_a_worker_holding_a_live_lease_is_not_stale(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, consumer: pgqrs.Consumer, raw: Raw
) -> None:
    await producer.enqueue({"n": 1})
    held = await consumer.dequeue(lock_time=60)
    assert held is not None and consumer.worker_id is not None
    idle = pgqrs.Consumer(admin.pool, consumer.queue_info, admin.config)
    await idle.register()
    # Both stopped heartbeating an hour ago; only the one without a live lease is stale.
    raw.execute(f"UPDATE \"{admin.schema}\".pgqrs_workers SET heartbeat_at = now() - interval '1 hour'")
    assert await admin.remove_stale_workers(60) == 1
    assert [worker.id for worker in await admin.list_workers()] == [consumer.worker_id]
    # Once its lease has expired, it is stale too.
    raw.execute(f"UPDATE \"{admin.schema}\".pgqrs_messages SET vt = now() - interval '1 second'")
    assert await admin.remove_stale_workers(60) == 1
    assert await admin.list_workers() == []


@pytest.mark.parametrize("call", ["delete", "archive", "extend", "release", "dequeue"])
async def test_every_call_keeps_the_worker_alive(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, raw: Raw, call: str
) -> None:
    consumer = pgqrs.Consumer(
        admin.pool, producer.queue_info, admin.config.replace(heartbeat_interval=0.001)
    )
    await producer.enqueue({"n": 1})
    held = await consumer.dequeue(lock_time=60)
    assert held is not None
    raw.execute(f"UPDATE \"{admin.schema}\".pgqrs_workers SET heartbeat_at = now() - interval '1 hour'")
    if call == "delete":
        assert await consumer.delete(held.id)
    elif call == "archive":
        assert await consumer.archive(held.id)
    elif call == "extend":
        assert await consumer.extend_visibility(held.id, 5)
    elif call == "release":
        assert await consumer.release(held.id)
    else:
        await consumer.dequeue()
    worker = await admin.get_worker(consumer.worker_id or 0)
    row = raw.execute("SELECT now() - %s", (worker.heartbeat_at,)).fetchone()
    assert row is not None and row[0] < datetime.timedelta(minutes=1)
    await consumer.close()


async def test_a_removed_worker_registers_again_and_loses_only_its_leases(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    await producer.batch_enqueue([{"n": 1}, {"n": 2}])
    held = await consumer.dequeue(lock_time=60)
    assert held is not None and consumer.worker_id is not None
    removed = consumer.worker_id
    assert await admin.workers.delete(removed)
    # Its lease went to nobody: an ack answers False, never a foreign-key error.
    assert await consumer.archive(held.id) is False
    assert await consumer.extend_visibility(held.id, 5) is False
    other = await consumer.dequeue(lock_time=60)
    assert other is not None and other.id != held.id
    assert consumer.worker_id not in (None, removed)
    assert other.worker_id == consumer.worker_id
    assert await consumer.delete(other.id)
    assert [worker.id for worker in await admin.list_workers()] == [consumer.worker_id]


async def test_a_heartbeat_after_removal_registers_again(
    admin: pgqrs.PgqrsAdmin, consumer: pgqrs.Consumer
) -> None:
    first = await consumer.register()
    assert await admin.workers.delete(first.id)
    await consumer.heartbeat()
    assert consumer.worker_id not in (None, first.id)


async def test_locked_means_held_and_not_expired(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, consumer: pgqrs.Consumer, raw: Raw
) -> None:
    sent = await producer.batch_enqueue([{"n": n} for n in range(4)])
    leased = await consumer.dequeue_batch(3, lock_time=60)
    assert await consumer.release(leased[0].id)  # back at once: pending
    assert await producer.extend_visibility(leased[1].id, 60)  # still held by the consumer
    assert await producer.extend_visibility(sent[3].id, 60)  # never delivered: delayed
    metrics = await admin.queue_metrics("jobs")
    assert (metrics.pending_count, metrics.locked_count, metrics.delayed_count) == (1, 2, 1)
    # An expired lease is pending again, whoever held it.
    raw.execute(
        f"UPDATE \"{admin.schema}\".pgqrs_messages SET vt = now() - interval '1 second' WHERE id = %s",
        (leased[2].id,),
    )
    metrics = await admin.queue_metrics("jobs")
    assert (metrics.pending_count, metrics.locked_count, metrics.delayed_count) == (2, 1, 1)


async def test_archive_counts_follow_every_change(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, raw: Raw
) -> None:
    config = admin.config.replace(max_read_count=1)
    consumer = pgqrs.Consumer(admin.pool, producer.queue_info, config)
    queue_id = producer.queue_info.id

    async def counted() -> tuple[int, int]:
        metrics = await admin.queue_metrics("jobs")
        actual = raw.execute(
            f"SELECT count(*), count(*) FILTER (WHERE dead_letter_reason IS NOT NULL) "
            f'FROM "{admin.schema}".pgqrs_archive WHERE queue_id = %s',
            (queue_id,),
        ).fetchone()
        assert actual is not None and (metrics.archived_count, metrics.dead_letter_count) == actual
        assert await admin.archive.count_by_fk(queue_id) == metrics.archived_count
        return metrics.archived_count, metrics.dead_letter_count

    await producer.batch_enqueue([{"n": n} for n in range(5)])
    leased = await consumer.dequeue_batch(3)
    await consumer.archive_batch([message.id for message in leased])
    assert await counted() == (3, 0)
    poison = await consumer.dequeue_batch(2, lock_time=0)  # expire at once, delivered once
    assert len(poison) == 2 and await consumer.dequeue_batch(2) == []  # buried on the way
    assert await counted() == (5, 2)
    record = await admin.archive.insert(
        pgqrs.tables.NewArchivedMessage(7, queue_id, {"n": 7}, 1, "imported dead letter")
    )
    assert await counted() == (6, 3)
    assert await admin.archive.delete(record.id)
    assert await counted() == (5, 2)
    assert await admin.purge_archive("jobs") == 5
    assert await counted() == (0, 0)
    await consumer.close()


async def test_the_archive_refuses_payloads_over_the_configured_limit(config: pgqrs.Config) -> None:
    async with await pgqrs.PgqrsAdmin.connect(config.replace(max_payload_bytes=64)) as admin:
        await admin.install()
        queue = await admin.create_queue("small")
        with pytest.raises(pgqrs.ValidationError, match="64"):
            await admin.archive.insert(pgqrs.tables.NewArchivedMessage(1, queue.id, {"x": "y" * 100}))


async def test_not_found_and_not_empty_name_the_queue(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer
) -> None:
    await producer.enqueue({"n": 1})
    with pytest.raises(pgqrs.QueueNotEmpty) as not_empty:
        await admin.queues.delete(producer.queue_info.id)
    assert (not_empty.value.queue, not_empty.value.count) == ("jobs", 1)
    with pytest.raises(pgqrs.QueueNotFound) as by_id:
        await admin.queues.get(424242)
    assert (by_id.value.queue, by_id.value.queue_id) == (None, 424242)
    with pytest.raises(pgqrs.QueueNotFound) as by_name:
        await admin.get_queue("missing")
    assert (by_name.value.queue, by_name.value.queue_id) == ("missing", None)


async def test_retry_keeps_the_error_and_counts_the_attempt(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, consumer: pgqrs.Consumer, raw: Raw
) -> None:
    first, second = await producer.batch_enqueue([{"n": 1}, {"n": 2}])
    await consumer.dequeue_batch(2, lock_time=60)
    answers = await consumer.retry_batch([(first.id, 0, "ValueError: bad\x00 input"), (second.id, 30, None)])
    assert answers == [True, True]
    assert 28 < seconds_until_visible(raw, admin.schema, second.id) <= 30
    again = await consumer.dequeue(lock_time=60)
    assert again is not None and again.id == first.id
    # The second delivery: attempt 2, the first attempt's error shown (NUL made printable).
    assert (again.attempt, again.read_ct, again.last_error) == (2, 2, "ValueError: bad\\x00 input")
    stored = await admin.messages.get(second.id)
    assert (stored.read_ct, stored.worker_id, stored.last_error) == (1, None, None)
    assert await consumer.retry_batch([]) == []


async def test_a_negative_retry_delay_is_refused(producer: pgqrs.Producer, consumer: pgqrs.Consumer) -> None:
    sent = await producer.enqueue({"n": 1})
    await consumer.dequeue()
    with pytest.raises(pgqrs.ValidationError, match="delay"):
        await consumer.retry(sent.id, -1, "x")


async def test_dead_letter_moves_the_message_with_its_reason_and_error(
    admin: pgqrs.PgqrsAdmin, producer: pgqrs.Producer, consumer: pgqrs.Consumer
) -> None:
    sent = await producer.enqueue({"n": 1})
    held = await consumer.dequeue()
    assert held is not None
    long_error = "Traceback\n" + "x" * 20_000 + "\nKeyError: 'n'"
    assert await consumer.dead_letter(sent.id, "KeyError: 'n'", long_error)
    assert await consumer.dead_letter(sent.id, "again", None) is False
    record = await admin.archive.get_by_original_id(sent.queue_id, sent.id)
    assert record.dead_letter_reason == "KeyError: 'n'"
    assert record.last_error is not None and len(record.last_error) <= 8_000
    assert record.last_error.endswith("KeyError: 'n'")  # the end of a traceback is kept
    assert record.worker_id == consumer.worker_id and record.read_ct == 1
    metrics = await admin.queue_metrics("jobs")
    assert (metrics.total_messages, metrics.archived_count, metrics.dead_letter_count) == (0, 1, 1)

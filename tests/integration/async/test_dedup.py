"""Idempotent enqueue: at most one live message per queue and dedup key."""

from __future__ import annotations

import datetime

import psycopg
import pytest

import pgqrs
from pgqrs._async import dedup_keys, maintenance


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


# Dedup windows (migration 0009): a key stays reserved after its message is acknowledged.

HOUR = datetime.timedelta(hours=1)
Raw = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
async def windowed(admin: pgqrs.PgqrsAdmin) -> pgqrs.QueueInfo:
    """Return a queue whose acknowledged keys stay reserved for an hour."""
    return await admin.create_queue("windowed", dedup_window=HOUR)


async def _acknowledge(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, how: str
) -> tuple[pgqrs.QueueMessage, pgqrs.Producer]:
    """Enqueue 'job' with key k, lease it and end it `how`; return the message and the producer."""
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    sent = await producer.enqueue("job", dedup_key="k", priority=4)
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
    leased = await consumer.dequeue()
    assert leased is not None and leased.id == sent.id
    if how == "dead_letter":
        assert await consumer.dead_letter(leased.id, "given up")
    else:
        assert await getattr(consumer, how)(leased.id)
    await consumer.close()
    return sent, producer


async def test_a_window_of_zero_keeps_no_key(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    assert queue.dedup_window == datetime.timedelta(0)
    sent, producer = await _acknowledge(admin, queue, "archive")
    again = await producer.enqueue("job", dedup_key="k")
    assert again.id != sent.id and again.acknowledged_at is None
    assert await admin.dedup_keys.count_reserved(queue.id) == 0


@pytest.mark.parametrize("how", ["archive", "delete", "dead_letter"])
async def test_within_the_window_a_retry_returns_the_acknowledged_message(
    admin: pgqrs.PgqrsAdmin, windowed: pgqrs.QueueInfo, how: str
) -> None:
    sent, producer = await _acknowledge(admin, windowed, how)
    archived = await admin.archive.count()
    again = await producer.enqueue({"retry": 1}, dedup_key="k")
    assert (again.id, again.enqueued_at, again.priority, again.dedup_key) == (
        sent.id, sent.enqueued_at, 4, "k",
    )  # fmt: skip
    assert again.acknowledged_at is not None and again.vt == again.acknowledged_at
    assert (again.read_ct, again.worker_id, again.payload) == (1, None, {"retry": 1})
    assert await admin.messages.count() == 0
    assert await admin.archive.count() == archived
    assert await admin.dedup_keys.count_reserved(windowed.id) == 1


async def test_a_key_is_free_once_its_window_expired(
    admin: pgqrs.PgqrsAdmin, windowed: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    sent, producer = await _acknowledge(admin, windowed, "archive")
    # The reservation's time has come (as if the hour had passed).
    raw.execute(f'UPDATE "{schema}".pgqrs_dedup_keys SET expires_at = now() - interval \'1 second\'')
    again = await producer.enqueue("new", dedup_key="k")
    assert again.id != sent.id and again.acknowledged_at is None
    # Acknowledged in turn, the new message's reservation replaces the expired one.
    consumer = pgqrs.Consumer(admin.pool, windowed, admin.config)
    leased = await consumer.dequeue()
    assert leased is not None and await consumer.delete(leased.id)
    assert (await producer.enqueue("third", dedup_key="k")).id == again.id
    await consumer.close()


async def test_a_batch_with_live_reserved_new_and_no_keys(
    admin: pgqrs.PgqrsAdmin, windowed: pgqrs.QueueInfo
) -> None:
    sent, producer = await _acknowledge(admin, windowed, "archive")
    live = await producer.enqueue("live", dedup_key="live")
    messages = await producer.batch_enqueue(
        ["k?", "live?", "new", None, "k again"], dedup_keys=["k", "live", "new", None, "k"]
    )
    assert [message.id for message in messages][:2] == [sent.id, live.id]
    assert messages[0] == messages[4] and messages[0].acknowledged_at is not None
    assert messages[1] == live and messages[2].acknowledged_at is None
    assert [message.payload for message in messages] == ["k?", "live", "new", None, "k?"]
    assert await admin.messages.count() == 3  # live, new and the unkeyed one


async def test_the_window_is_the_queues(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    assert (await admin.get_queue("jobs")).dedup_window == datetime.timedelta(0)
    changed = await admin.set_dedup_window("jobs", 90.5)
    assert changed.dedup_window == datetime.timedelta(seconds=90.5)
    assert (await admin.get_queue("jobs")).dedup_window == changed.dedup_window
    # Producers and consumers made before the change apply it: the statements read the row.
    sent, producer = await _acknowledge(admin, queue, "archive")
    assert (await producer.enqueue("job", dedup_key="k")).id == sent.id
    with pytest.raises(pgqrs.ValidationError, match="dedup_window"):
        await admin.create_queue("bad", dedup_window=-1)
    with pytest.raises(pgqrs.ValidationError, match="dedup_window"):
        await admin.set_dedup_window("jobs", "1 day")
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.set_dedup_window("nope", 1)
    assert [info.queue_name for info in await admin.list_queues()] == ["jobs"]


async def test_the_purge_removes_expired_reservations_in_batches(
    admin: pgqrs.PgqrsAdmin, windowed: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    producer = pgqrs.Producer(admin.pool, windowed, admin.config)
    await producer.batch_enqueue(list(range(5)), dedup_keys=[f"k{index}" for index in range(5)])
    consumer = pgqrs.Consumer(admin.pool, windowed, admin.config)
    leased = await consumer.dequeue_batch(5)
    assert all(await consumer.archive_batch([message.id for message in leased]))
    await consumer.close()
    raw.execute(
        f"UPDATE \"{schema}\".pgqrs_dedup_keys SET expires_at = now() - interval '1 second' "
        "WHERE dedup_key <> 'k4'"
    )
    assert await admin.dedup_keys.purge_expired(limit=3) == 3
    assert await admin.dedup_keys.purge_expired(limit=3) == 1
    assert await admin.dedup_keys.purge_expired() == 0
    assert raw.execute(f'SELECT dedup_key FROM "{schema}".pgqrs_dedup_keys').fetchall() == [("k4",)]
    assert await admin.dedup_keys.count_reserved(windowed.id) == 1


async def test_a_buried_poison_message_keeps_its_key(
    admin: pgqrs.PgqrsAdmin, windowed: pgqrs.QueueInfo
) -> None:
    producer = pgqrs.Producer(admin.pool, windowed, admin.config)
    sent = await producer.enqueue("poison", dedup_key="p")
    consumer = pgqrs.Consumer(admin.pool, windowed, admin.config.replace(max_read_count=1))
    for _delivery in range(2):  # the second lease is over max_read_count: buried
        await consumer.dequeue_batch(1, lock_time=0)
    await consumer.close()
    assert await admin.messages.count() == 0
    again = await producer.enqueue("poison", dedup_key="p")
    assert (again.id, again.acknowledged_at is not None) == (sent.id, True)


async def test_the_runtime_maintenance_purges_every_expired_reservation(
    admin: pgqrs.PgqrsAdmin, windowed: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    expired = 2 * dedup_keys.PURGE_BATCH + 5
    raw.execute(
        f'INSERT INTO "{schema}".pgqrs_dedup_keys (queue_id, dedup_key, message_id, enqueued_at, '
        "read_ct, priority, acknowledged_at, expires_at) "
        "SELECT %s, 'k' || n, n, now(), 1, 0, now(), now() - interval '1 second' "
        "FROM generate_series(1, %s) AS n",
        (windowed.id, expired),
    )
    housekeeping = maintenance.Maintenance(admin.workers, 30.0, dedup_keys_table=admin.dedup_keys)
    await housekeeping.purge_dedup_keys()
    assert housekeeping.dedup_keys_purged == expired
    assert support_count(raw, f'SELECT count(*) FROM "{schema}".pgqrs_dedup_keys') == 0


def support_count(raw: Raw, query: str) -> int:
    row = raw.execute(query).fetchone()
    assert row is not None
    return int(str(row[0]))

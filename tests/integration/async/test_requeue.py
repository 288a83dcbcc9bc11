"""Dead letters from the library: paging them by archive id, and requeueing them in one statement."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import pgqrs
from pgqrs import _notify
from tests.reliability import harness

Raw = psycopg.Connection[tuple[object, ...]]


async def bury(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, payloads: list[Any]) -> list[int]:
    """Enqueue `payloads`, lease them and dead-letter each with an error; return their message ids."""
    messages = await pgqrs.Producer(admin.pool, queue).batch_enqueue(payloads)
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(len(payloads), lock_time=30)
    failures = [(message.id, "gave up", f"ValueError: bad {message.payload}") for message in leased]
    assert all(await consumer.dead_letter_batch(failures))
    await consumer.close()
    return [message.id for message in messages]


async def archive_one(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, payload: Any) -> None:
    await pgqrs.Producer(admin.pool, queue).enqueue(payload)
    consumer = pgqrs.Consumer(admin.pool, queue)
    message = await consumer.dequeue()
    assert message is not None and await consumer.archive(message.id)
    await consumer.close()


def kept_counts(raw: Raw, schema: str, queue_id: int) -> tuple[int, int]:
    row = raw.execute(
        "SELECT coalesce(sum(archived), 0), coalesce(sum(dead_letters), 0) "
        f'FROM "{schema}".pgqrs_archive_counts WHERE queue_id = %s',
        (queue_id,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])  # type: ignore[call-overload]


def real_counts(raw: Raw, schema: str, queue_id: int) -> tuple[int, int]:
    row = raw.execute(
        "SELECT count(*), count(*) FILTER (WHERE dead_letter_reason IS NOT NULL) "
        f'FROM "{schema}".pgqrs_archive WHERE queue_id = %s',
        (queue_id,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])  # type: ignore[call-overload]


async def test_dead_letters_pages_by_archive_id_and_skips_acknowledged_records(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    other = await admin.create_queue("other")
    await archive_one(admin, queue, {"ok": True})
    buried = await bury(admin, queue, [{"n": n} for n in range(5)])
    await bury(admin, other, [{"elsewhere": True}])
    first = await admin.dead_letters("jobs", limit=3)
    rest = await admin.dead_letters("jobs", limit=3, after_id=first[-1].id)
    records = first + rest
    assert [len(first), len(rest)] == [3, 2]
    assert [record.id for record in records] == sorted(record.id for record in records)
    assert sorted(record.original_msg_id for record in records) == buried
    assert all(record.dead_letter_reason == "gave up" for record in records)
    assert {record.last_error for record in records} == {f"ValueError: bad {{'n': {n}}}" for n in range(5)}
    assert await admin.dead_letters("jobs", after_id=records[-1].id) == []


async def test_requeue_moves_the_chosen_dead_letters_back_as_new_deliveries(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    other = await admin.create_queue("other")
    await archive_one(admin, queue, {"ok": True})
    await bury(admin, queue, [{"n": n} for n in range(3)])
    await bury(admin, other, [{"elsewhere": True}])
    records = await admin.dead_letters("jobs")
    acknowledged = await admin.archive.filter_by_fk(queue.id, limit=10)
    acknowledged_id = next(record.id for record in acknowledged if record.dead_letter_reason is None)
    other_id = (await admin.dead_letters("other"))[0].id
    chosen = [records[0].id, records[2].id]

    moved = await admin.requeue_dead_letters("jobs", [*chosen, acknowledged_id, other_id])

    assert sorted(moved) == chosen
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(10, lock_time=30)  # visible now
    await consumer.close()
    assert sorted(message.id for message in leased) == sorted(moved.values())
    by_id = {message.id: message for message in leased}
    for record in (records[0], records[2]):
        message = by_id[moved[record.id]]
        assert message.payload == record.payload
        assert message.read_ct == 1  # this delivery is its first
        assert message.last_error == record.last_error
    assert [record.id for record in await admin.dead_letters("jobs")] == [records[1].id]
    assert len(await admin.dead_letters("other")) == 1
    for queue_id in (queue.id, other.id):
        assert kept_counts(raw, schema, queue_id) == real_counts(raw, schema, queue_id)
    metrics = await admin.queue_metrics("jobs")
    assert (metrics.archived_count, metrics.dead_letter_count) == (2, 1)


async def test_requeue_all_empties_the_queues_dead_letters_only(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    await archive_one(admin, queue, {"ok": True})
    buried = await bury(admin, queue, [{"n": n} for n in range(4)])
    moved = await admin.requeue_dead_letters("jobs")
    assert len(moved) == len(buried)
    assert await admin.dead_letters("jobs") == []
    metrics = await admin.queue_metrics("jobs")
    assert (metrics.pending_count, metrics.archived_count, metrics.dead_letter_count) == (4, 1, 0)
    assert kept_counts(raw, schema, queue.id) == real_counts(raw, schema, queue.id) == (1, 0)
    assert await admin.requeue_dead_letters("jobs") == {}


async def test_requeue_wakes_the_queues_workers(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str, schema: str
) -> None:
    await bury(admin, queue, [{"n": 1}])
    # LISTEN needs the server itself: a transaction pooler would hand the session to others.
    with psycopg.connect(harness.derive_direct_dsn(dsn), autocommit=True) as listener:
        listener.execute(f"LISTEN {_notify.CHANNEL}")
        await admin.requeue_dead_letters("jobs")
        received = [note.payload for note in listener.notifies(timeout=10, stop_after=1)]
    assert received == [_notify.wake_payload(schema, queue.id)]


async def test_dead_letter_calls_check_their_arguments(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.dead_letters("missing")
    with pytest.raises(pgqrs.QueueNotFound):
        await admin.requeue_dead_letters("missing", [1])
    with pytest.raises(pgqrs.ValidationError):
        await admin.dead_letters("jobs", limit=0)
    with pytest.raises(pgqrs.ValidationError):
        await admin.requeue_dead_letters("jobs", [0])

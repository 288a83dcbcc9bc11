"""The Inspector's read-only views: capped counts, throughput, keyset pages, workers."""

from __future__ import annotations

import psycopg

import pgqrs
from pgqrs import inspection
from pgqrs._async import inspector as inspector_module

Raw = psycopg.Connection[tuple[object, ...]]
State = inspection.MessageState


def inspector_of(admin: pgqrs.PgqrsAdmin) -> inspector_module.Inspector:
    return inspector_module.Inspector(admin.pool, admin.schema)


async def test_queue_snapshots_count_each_state_up_to_the_cap(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    producer = pgqrs.Producer(admin.pool, queue)
    await producer.batch_enqueue([{"n": n} for n in range(5)])
    await producer.batch_enqueue([{"later": n} for n in range(2)], delay=3600)
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(2, lock_time=60)
    assert await consumer.archive(leased[0].id)
    assert await consumer.dead_letter(leased[1].id, "gave up")
    await consumer.dequeue_batch(1, lock_time=60)  # one held
    raw.execute(f"UPDATE \"{schema}\".pgqrs_messages SET vt = now() - interval '90 s' WHERE vt <= now()")
    await admin.create_queue("empty")
    inspector = inspector_of(admin)

    empty, jobs = await inspector.queues()
    assert (empty.queue_name, empty.pending, empty.oldest_pending_since) == ("empty", 0, None)
    assert (jobs.pending, jobs.in_flight, jobs.delayed) == (2, 1, 2)
    assert (jobs.archived, jobs.dead_letters) == (2, 1)
    assert jobs.oldest_pending_seconds is not None and 90 <= jobs.oldest_pending_seconds < 120
    [capped] = await inspector.queues("jobs", cap=1)
    assert (capped.pending, capped.in_flight, capped.delayed) == (2, 1, 2)
    assert capped.over_cap(capped.pending) and not capped.over_cap(capped.in_flight)
    assert await inspector.queues("missing") == []
    await consumer.close()


async def test_throughput_counts_the_last_hours_archive_per_minute(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    await pgqrs.Producer(admin.pool, queue).batch_enqueue([{"n": n} for n in range(6)])
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(6, lock_time=60)
    await consumer.archive_batch([message.id for message in leased[:4]])
    await consumer.dead_letter(leased[4].id, "gave up")
    await consumer.archive(leased[5].id)
    await consumer.close()
    # One record from two hours ago: outside the hour.
    raw.execute(
        f"UPDATE \"{schema}\".pgqrs_archive SET archived_at = now() - interval '2 hours' "
        f'WHERE id = (SELECT max(id) FROM "{schema}".pgqrs_archive)'
    )
    counts = (await inspector_of(admin).throughput(60))[queue.id]
    assert sum(count.archived for count in counts) == 5
    assert sum(count.dead_letters for count in counts) == 1
    assert all(count.minute.second == 0 for count in counts)


async def test_message_pages_cover_each_state_once_in_visibility_order(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    producer = pgqrs.Producer(admin.pool, queue)
    visible = await producer.batch_enqueue([{"n": n} for n in range(7)])
    delayed = await producer.batch_enqueue([{"later": n} for n in range(3)], delay=3600)
    consumer = pgqrs.Consumer(admin.pool, queue)
    held = await consumer.dequeue_batch(2, lock_time=60)
    inspector = inspector_of(admin)

    async def every_page(state: inspection.MessageState) -> list[int]:
        seen: list[int] = []
        after = None
        while True:
            page = await inspector.messages(queue.id, state, after, limit=3)
            seen.extend(row.id for row in page)
            if len(page) < 3:
                return seen
            after = inspection.message_key(page[-1])

    held_ids = [message.id for message in held]
    assert await every_page(State.pending) == [message.id for message in visible[2:]]
    assert await every_page(State.in_flight) == held_ids
    assert await every_page(State.delayed) == [message.id for message in delayed]
    assert sorted(await every_page(State.all)) == sorted(m.id for m in visible + delayed)
    [first] = await inspector.messages(queue.id, State.pending, limit=1, payloads=True)
    assert first.payload == '{"n": 2}' and first.worker_id is None
    [bare] = await inspector.messages(queue.id, State.in_flight, limit=1)
    assert bare.payload is None and bare.worker_id == consumer.worker_id
    await consumer.close()


async def test_archive_pages_newest_first_and_dead_letters_alone(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    await pgqrs.Producer(admin.pool, queue).batch_enqueue([{"n": n} for n in range(5)])
    consumer = pgqrs.Consumer(admin.pool, queue)
    leased = await consumer.dequeue_batch(5, lock_time=60)
    await consumer.archive_batch([message.id for message in leased[:3]])
    await consumer.dead_letter_batch([(message.id, "gave up", "boom") for message in leased[3:]])
    await consumer.close()
    inspector = inspector_of(admin)
    first = await inspector.archive(queue.id, limit=3, payloads=True)
    rest = await inspector.archive(queue.id, before_id=first[-1].id, limit=3)
    ids = [row.id for row in first + rest]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True)
    assert first[0].payload == '{"n": 4}' and rest[0].payload is None
    dead = await inspector.archive(queue.id, dead_letters_only=True)
    assert [row.original_msg_id for row in dead] == [leased[4].id, leased[3].id]
    assert {(row.dead_letter_reason, row.last_error) for row in dead} == {("gave up", "boom")}


async def test_workers_with_their_leases_and_states(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    await pgqrs.Producer(admin.pool, queue).batch_enqueue([{"n": n} for n in range(3)])
    busy = pgqrs.Consumer(admin.pool, queue)
    await busy.dequeue_batch(2, lock_time=60)
    silent = pgqrs.Consumer(admin.pool, queue)
    await silent.register()
    stopped = pgqrs.Consumer(admin.pool, queue)
    await stopped.register()
    await stopped.close()
    raw.execute(
        f"UPDATE \"{schema}\".pgqrs_workers SET heartbeat_at = now() - interval '10 minutes' WHERE id = %s",
        (silent.worker_id,),
    )
    inspector = inspector_of(admin)
    rows = {row.id: row for row in await inspector.workers()}
    assert rows[busy.worker_id].leases == 2 and rows[busy.worker_id].state() == "running"  # type: ignore[index]
    assert rows[silent.worker_id].state() == "stale" and rows[silent.worker_id].leases == 0  # type: ignore[index]
    assert rows[stopped.worker_id].state() == "stopped"  # type: ignore[index]
    assert rows[silent.worker_id].heartbeat_age_seconds >= 600  # type: ignore[index]
    states = [("jobs", "running", 1), ("jobs", "stale", 1), ("jobs", "stopped", 1)]
    assert await inspector.worker_counts() == states
    assert await inspector.payloads_visible()
    await busy.close()
    await silent.close()

"""Table APIs against a real PostgreSQL: the same Table protocol on all four tables."""

from __future__ import annotations

import pytest

import pgqrs
from pgqrs import tables


async def test_admin_gives_table_apis_on_its_schema(admin: pgqrs.PgqrsAdmin) -> None:
    for table in (admin.queues, admin.workers, admin.messages, admin.archive):
        assert table.schema == admin.schema
        assert table.pool is admin.pool


async def test_queues_table(admin: pgqrs.PgqrsAdmin) -> None:
    queues = tables.PgqrsQueues(admin.pool, admin.schema)
    created = await queues.insert(tables.NewQueue("alpha"))
    await queues.insert(tables.NewQueue("beta"))
    assert await queues.get(created.id) == created
    assert [queue.queue_name for queue in await queues.list()] == ["alpha", "beta"]
    assert await queues.count() == 2
    assert await queues.count_by_fk(created.id) == 1
    assert await queues.filter_by_fk(created.id) == [created]
    assert await queues.filter_by_fk(created.id + 100) == []
    with pytest.raises(pgqrs.QueueAlreadyExists):
        await queues.insert(tables.NewQueue("alpha"))
    assert await queues.delete(created.id) is True
    assert await queues.delete(created.id) is False
    with pytest.raises(pgqrs.QueueNotFound):
        await queues.get(created.id)


async def test_workers_table(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    workers = tables.PgqrsWorkers(admin.pool, admin.schema)
    worker = await workers.insert(tables.NewWorker(queue.id, "host-a", 4242))
    assert (worker.hostname, worker.pid, worker.status) == ("host-a", 4242, "running")
    assert await workers.get(worker.id) == worker
    assert await workers.list() == [worker]
    assert await workers.count() == 1
    assert await workers.count_by_fk(queue.id) == 1
    assert await workers.filter_by_fk(queue.id) == [worker]
    assert await workers.count_by_fk(queue.id + 1) == 0
    assert await workers.mark_stopped(worker.id)
    assert (await workers.get(worker.id)).status == "stopped"
    assert await workers.delete(worker.id)
    with pytest.raises(pgqrs.WorkerNotFound):
        await workers.get(worker.id)
    with pytest.raises(pgqrs.QueueNotFound):
        await workers.insert(tables.NewWorker(queue.id + 100, "h", 1))


async def test_messages_table(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, consumer: pgqrs.Consumer
) -> None:
    messages = tables.PgqrsMessages(admin.pool, admin.schema)
    first = await messages.insert(tables.NewMessage(queue.id, {"a": 1}))
    second = await messages.insert(tables.NewMessage(queue.id, {"b": 2}, delay_seconds=60))
    assert await messages.get(first.id) == first
    assert [message.id for message in await messages.list()] == [first.id, second.id]
    assert [message.id for message in await messages.list(limit=1)] == [first.id]
    assert await messages.count() == 2
    assert await messages.count_by_fk(queue.id) == 2
    assert [message.id for message in await messages.filter_by_fk(queue.id)] == [first.id, second.id]
    leased = await consumer.dequeue(lock_time=60)
    assert leased is not None
    # Administrative delete removes the message whoever holds its lease.
    assert await messages.delete(leased.id) is True
    assert await messages.delete(leased.id) is False
    with pytest.raises(pgqrs.MessageNotFound):
        await messages.get(leased.id)
    with pytest.raises(pgqrs.ValidationError):
        await messages.insert(tables.NewMessage(queue.id, float("nan")))
    with pytest.raises(pgqrs.QueueNotFound):
        await messages.insert(tables.NewMessage(queue.id + 100, {}))


async def test_archive_table(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    archive = tables.PgqrsArchiveTable(admin.pool, admin.schema)
    record = await archive.insert(tables.NewArchivedMessage(77, queue.id, {"restored": True}, read_ct=3))
    assert (record.original_msg_id, record.payload, record.read_ct) == (77, {"restored": True}, 3)
    other = await archive.insert(tables.NewArchivedMessage(78, queue.id, [1]))
    assert await archive.get(record.id) == record
    assert [item.id for item in await archive.list()] == [other.id, record.id]
    assert await archive.count() == 2
    assert await archive.count_by_fk(queue.id) == 2
    assert [item.id for item in await archive.filter_by_fk(queue.id, limit=1)] == [other.id]
    typed = await archive.insert(tables.NewArchivedMessage(79, queue.id, {"type": "email"}))
    assert await archive.filter_by_fk(queue.id, message_type="email") == [typed]
    assert await archive.delete(typed.id)
    assert await archive.get_by_original_id(queue.id, 77) == record
    await archive.insert(tables.NewArchivedMessage(77, queue.id, {"twice": True}))
    assert await archive.delivery_summary(queue.id) == (3, 2)
    assert await archive.delete(record.id)
    with pytest.raises(pgqrs.MessageNotFound):
        await archive.get(record.id)


async def test_every_table_satisfies_the_protocol(admin: pgqrs.PgqrsAdmin) -> None:
    implementations: list[tables.Table[object, object]] = [
        admin.queues,
        admin.workers,
        admin.messages,
        admin.archive,  # type: ignore[list-item]
    ]
    for table in implementations:
        assert await table.count() == 0
        assert await table.list() == []
        assert await table.count_by_fk(1) == 0
        assert await table.filter_by_fk(1) == []
        assert await table.delete(1) is False
        with pytest.raises(pgqrs.NotFoundError):
            await table.get(1)

"""Scenario 8 - ids beyond 2^31: every identity sequence restarted past int range; all calls work.

graphile-worker ran out of `int` ids (#611); pgqrs uses bigint everywhere. This walks every public
operation with queue, worker, message and archive ids past 2^31, 2^32 and near 2^62.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import checker

TABLES = ("pgqrs_queues", "pgqrs_workers", "pgqrs_messages", "pgqrs_archive")


def _restart_ids(dsn: str, schema: str, start: int) -> None:
    with support.connect(dsn) as connection:
        for offset, table in enumerate(TABLES):
            # An int literal (never user input) in DDL, which takes no parameters.
            connection.execute(
                f'ALTER TABLE "{schema}".{table} ALTER COLUMN id RESTART WITH {start + offset * 1000:d}'
            )


@pytest.mark.parametrize("start", [2**31 + 7, 2**32 + 7, 2**62 + 7], ids=["2^31", "2^32", "2^62"])
def test_every_operation_with_big_ids(
    admin: pgqrs.PgqrsAdmin, dsn: str, schema: str, tmp_path: Any, start: int, figures: dict[str, Any]
) -> None:
    _restart_ids(dsn, schema, start)
    queue = admin.create_queue("big")
    assert queue.id >= start
    assert admin.get_queue("big").id == queue.id
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
    recorder = checker.Recorder(tmp_path / "events.jsonl", "test")

    sent = [producer.enqueue({"key": "one"}), producer.enqueue_delayed({"key": "later"}, 0)]
    sent += producer.batch_enqueue([{"key": f"batch-{index}"} for index in range(6)])
    recorder.enqueued(sent)
    assert all(message.id > 2**31 for message in sent)
    assert producer.extend_visibility(sent[0].id, 0)
    assert admin.messages.get(sent[0].id).id == sent[0].id
    assert {message.id for message in admin.messages.filter_by_fk(queue.id)} == {
        message.id for message in sent
    }

    taken = consumer.dequeue_batch(8, lock_time=30)
    recorder.leased("consumer", taken)
    assert consumer.worker_id is not None and consumer.worker_id > 2**31
    assert admin.get_worker(consumer.worker_id).id == consumer.worker_id
    assert [worker.id for worker in admin.list_workers("big")] == [consumer.worker_id]
    assert consumer.extend_visibility(taken[0].id, 5)
    ids = [message.id for message in taken]
    acks = [("delete", ids[0], consumer.delete(ids[0])), ("archive", ids[1], consumer.archive(ids[1]))]
    acks += [("delete", i, ok) for i, ok in zip(ids[2:5], consumer.delete_batch(ids[2:5]), strict=False)]
    acks += [("archive", i, ok) for i, ok in zip(ids[5:], consumer.archive_batch(ids[5:]), strict=False)]
    read_ct = {message.id: message.read_ct for message in taken}
    for kind, message_id, ok in acks:
        recorder.acked("consumer", kind, message_id, read_ct[message_id], ok)
    recorder.close()
    assert all(ok for _kind, _id, ok in acks)
    archived = admin.archive.get_by_original_id(queue.id, ids[1])
    assert archived.id > 2**31 and admin.archive.get(archived.id).original_msg_id == ids[1]

    # Dead-lettering and the administrative paths.
    poison = producer.enqueue({"key": "poison"})
    strict = pgqrs.Consumer(admin.pool, queue, admin.config.replace(max_read_count=1))
    assert [message.id for message in strict.dequeue_batch(1, lock_time=0)] == [poison.id]
    assert strict.dequeue_batch(1) == []
    assert admin.archive.get_by_original_id(queue.id, poison.id).dead_letter_reason
    metrics = admin.queue_metrics("big")
    assert (metrics.total_messages, metrics.archived_count, metrics.dead_letter_count) == (0, 5, 1)
    assert admin.purge_archive("big") == 5
    consumer.close()
    strict.close()
    assert admin.remove_stale_workers(0) == 2
    admin.delete_queue("big")

    verdict = checker.Checker.from_files([tmp_path / "events.jsonl"]).verdict()
    figures.update(first_id=start, largest_message_id=max(ids), api_calls_exercised=24, **verdict.figures())
    assert verdict.ok, str(verdict)

"""Several consumer processes on one queue: every message acknowledged exactly once, none lost.

Through PgBouncer (CI's second pass) the processes hold more client connections than the
pooler's two server connections.
"""

from __future__ import annotations

import multiprocessing

import pytest

from pgqrs import sync
from tests import support


@pytest.mark.parametrize(("processes", "messages", "batch"), [(4, 20_000, 50), (8, 4_000, 7)])
def test_consumer_processes_ack_each_message_exactly_once(
    config: sync.Config, dsn: str, schema: str, processes: int, messages: int, batch: int
) -> None:
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        queue = admin.create_queue("shared")
        producer = sync.Producer(admin.pool, queue, config)
        sent: list[int] = []
        for start in range(0, messages, 1000):
            sent.extend(message.id for message in producer.batch_enqueue(range(start, start + 1000)))

        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        workers = [
            context.Process(target=support.drain_worker, args=(dsn, schema, "shared", batch, results))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=300) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0

        acked = [msg_id for acked_ids, _seen in outcomes for msg_id in acked_ids]
        seen = [msg_id for _acked, seen_ids in outcomes for msg_id in seen_ids]
        assert len(acked) == len(set(acked)) == messages, "an id was acknowledged twice or not at all"
        assert set(acked) == set(sent)
        assert len(seen) == len(set(seen)), "a message was delivered twice within its lease"
        assert sum(1 for acked_ids, _ in outcomes if acked_ids) >= 2, "work was not shared"
        metrics = admin.queue_metrics("shared")
        assert (metrics.total_messages, metrics.archived_count) == (0, messages)
        assert (
            support.count(dsn, f'SELECT count(DISTINCT original_msg_id) FROM "{schema}".pgqrs_archive')
            == messages
        )

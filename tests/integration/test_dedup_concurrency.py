"""Dedup keys under concurrency: the unique index decides, never a read followed by a write.

Blocking API only (threads and processes); the API tests cover both APIs.
"""

from __future__ import annotations

import datetime
import multiprocessing
import random
import threading
from typing import Any

import psycopg
import pytest

from pgqrs import _queries, sync
from tests import support
from tests.reliability import harness

KEYS = 1_000


def enqueue_keys(dsn: str, schema: str, seed: int, start: Any, results: Any) -> None:
    """Enqueue every key once, in an order and batch sizes of this process's own; put key -> id."""
    config = sync.Config.from_dsn_with_schema(dsn, schema).replace(max_connections=2)
    rng = random.Random(seed)
    keys = [f"key-{index}" for index in range(KEYS)]
    rng.shuffle(keys)
    ids: dict[str, int] = {}
    with sync.PgqrsAdmin.connect(config) as admin:
        producer = sync.Producer(admin.pool, admin.get_queue("shared"), config)
        start.wait(60)
        while keys:
            size = rng.choice([1, 7, 50])
            batch, keys = keys[:size], keys[size:]
            if len(batch) == 1:
                ids[batch[0]] = producer.enqueue({"key": batch[0]}, dedup_key=batch[0]).id
            else:
                messages = producer.batch_enqueue([{"key": key} for key in batch], dedup_keys=batch)
                ids.update((key, message.id) for key, message in zip(batch, messages, strict=True))
    results.put(ids)


def archive_until(admin: sync.PgqrsAdmin, done: threading.Event, archived: list[int]) -> None:
    """Lease and archive the shared queue's messages as they come, until `done` and it is empty."""
    consumer = sync.Consumer(admin.pool, admin.get_queue("shared"), admin.config)
    while True:
        leased = consumer.dequeue_batch(20)
        if not leased and done.is_set():
            break
        archived.extend(msg_id for msg_id, ok in zip(
            [message.id for message in leased], consumer.archive_batch([m.id for m in leased]), strict=True
        ) if ok)  # fmt: skip
        if not leased:
            done.wait(0.01)
    consumer.close()


@pytest.mark.parametrize("window", [0, 3600], ids=["no-window", "window-while-archiving"])
def test_processes_enqueueing_the_same_keys_make_one_message_each(
    config: sync.Config, dsn: str, schema: str, window: int
) -> None:
    """With a window, a consumer archives the messages while the 8 processes still enqueue their
    keys: a key acknowledged before (or while) a process enqueues it is still never written twice."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        admin.create_queue("shared", dedup_window=window)
        done = threading.Event()
        archived: list[int] = []
        archiver = threading.Thread(target=archive_until, args=(admin, done, archived))
        if window:
            archiver.start()
        try:
            outcomes = _run_processes(dsn, schema)
        finally:
            done.set()
            if window:
                archiver.join(120)
        written = support.count(
            dsn,
            f'SELECT (SELECT count(*) FROM "{schema}".pgqrs_messages)'
            f' + (SELECT count(*) FROM "{schema}".pgqrs_archive)',
        )
        keys = support.count(
            dsn,
            f"SELECT count(DISTINCT payload ->> 'key') FROM (SELECT payload FROM \"{schema}\".pgqrs_messages"
            f' UNION ALL SELECT payload FROM "{schema}".pgqrs_archive) AS every_message',
        )
    assert (written, keys) == (KEYS, KEYS)
    for ids in outcomes:
        assert ids == outcomes[0], "two processes got different messages for one key"
    if window:
        assert len(archived) > 0


def _run_processes(dsn: str, schema: str) -> list[dict[str, int]]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Event()
    processes = [
        context.Process(target=enqueue_keys, args=(dsn, schema, seed, start, results)) for seed in range(8)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def test_a_key_committed_while_the_enqueue_waits_is_returned(
    config: sync.Config, dsn: str, schema: str
) -> None:
    """The concurrent transaction commits after the waiting statement took its snapshot: that
    statement neither writes nor sees the row; the producer asks again and returns it."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        producer = sync.Producer(admin.pool, admin.create_queue("q"), config)
        with psycopg.connect(dsn, prepare_threshold=None) as other:
            first = producer.enqueue("first", dedup_key="k", connection=other)
            outcome: list[sync.QueueMessage] = []
            waiting = threading.Thread(
                target=lambda: outcome.append(producer.enqueue("second", dedup_key="k"))
            )
            waiting.start()
            _wait_for_a_lock_wait(dsn, schema)
            other.commit()
            waiting.join(30)
        assert [message.id for message in outcome] == [first.id]
        assert admin.messages.count() == 1


@pytest.mark.parametrize("window_set", ["at-creation", "after-the-producer"])
def test_a_key_acknowledged_while_the_enqueue_waits_is_returned(
    config: sync.Config, dsn: str, schema: str, window_set: str
) -> None:
    """The acknowledgement commits after the waiting enqueue took its snapshot: its insert finds
    the key free, and its snapshot does not show the reservation. The enqueue must still return
    the acknowledged message and write nothing; also from a producer made before the queue had
    a window (it learns of the window from its first keyed enqueue)."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        hour = datetime.timedelta(hours=1)
        queue = admin.create_queue("q", dedup_window=hour if window_set == "at-creation" else 0)
        producer = sync.Producer(admin.pool, queue, config)
        consumer = sync.Consumer(admin.pool, queue, config)
        if window_set == "after-the-producer":
            admin.set_dedup_window("q", hour)
        first = producer.enqueue("first", dedup_key="k")
        leased = consumer.dequeue()
        assert leased is not None
        archive = _queries.for_schema(schema)["archive_move_keyed"].text
        with psycopg.connect(dsn, prepare_threshold=None) as other:
            other.execute(archive, {"ids": [leased.id], "worker_id": consumer.worker_id})
            outcome: list[sync.QueueMessage] = []
            waiting = threading.Thread(
                target=lambda: outcome.append(producer.enqueue("second", dedup_key="k"))
            )
            waiting.start()
            _wait_for_a_lock_wait(dsn, schema)
            other.commit()
            waiting.join(30)
        assert [message.id for message in outcome] == [first.id]
        assert outcome[0].acknowledged_at is not None
        assert admin.messages.count() == 0
        assert admin.archive.count() == 1
        consumer.close()


def _wait_for_a_lock_wait(dsn: str, schema: str) -> None:
    # On the server itself: behind PgBouncer (2 server connections in CI) the two transactions
    # hold both, and a third client would wait for one of them.
    direct = harness.derive_direct_dsn(dsn)
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position(%s in query) > 0"
    )
    for _attempt in range(600):
        if support.count(direct, query, f'"{schema}".pgqrs_') > 0:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the second enqueue never waited for the first")

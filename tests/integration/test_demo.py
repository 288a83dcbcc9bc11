"""The demo (the main job) on the test database: every message archived exactly once."""

from __future__ import annotations

import threading
import time

from pgqrs import demo, sync


def test_demo_runs_end_to_end_and_checks_delivery(config: sync.Config) -> None:
    last: dict[str, tuple[int, int]] = {}

    def progress(phase: str, done: int, total: int) -> None:
        last[phase] = (done, total)

    summary = demo.run(config, messages=1_000, workers=3, batch_size=50, progress=progress)
    assert last == {"enqueue": (1_000, 1_000), "process": (1_000, 1_000)}
    assert summary.every_message_archived_once
    # The worker runtime's handlers saw each message once, and archived it.
    assert (summary.handled, summary.archived, summary.archived_distinct, summary.remaining) == (
        1_000,
        1_000,
        1_000,
        0,
    )
    assert summary.duplicates_seen == 0
    assert summary.metrics.archived_count == 1_000
    assert summary.enqueue_per_second > 0
    assert summary.process_per_second > 0
    assert summary.as_dict()["every_message_archived_once"] is True
    assert summary.queue_name.startswith("demo_")
    with sync.PgqrsAdmin.connect(config) as admin:  # the queue, its archive and workers are gone
        assert (admin.list_queues(), admin.list_workers(), admin.archive.count()) == ([], [], 0)


def test_the_processing_time_ends_when_the_last_message_is_archived(config: sync.Config) -> None:
    # The progress display takes 5 s over the final count: after the last archive, so not
    # processing time (nor is the time the workers take to stop).
    def progress(phase: str, done: int, total: int) -> None:
        if phase == "process" and done == total:
            time.sleep(5)

    summary = demo.run(config, messages=100, workers=1, batch_size=50, progress=progress)
    assert summary.every_message_archived_once
    assert 0 < summary.process_seconds < 5


def test_demos_at_once_each_use_a_queue_of_their_own(config: sync.Config) -> None:
    # Both demos have created their queue and sent a first batch before either goes on.
    first_batch_sent = threading.Barrier(2, timeout=60)
    summaries: list[demo.DemoSummary] = []
    failures: list[BaseException] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "enqueue" and done == 50:
            first_batch_sent.wait()

    def run_demo() -> None:
        try:
            summaries.append(demo.run(config, messages=300, workers=2, batch_size=50, progress=progress))
        except BaseException as error:
            failures.append(error)

    # Daemon threads: were a demo to wait for ever for messages the other took, the test fails
    # after the timeout instead of hanging the session.
    threads = [threading.Thread(target=run_demo, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a demo never finished"
    assert failures == []
    assert [(summary.archived, summary.every_message_archived_once) for summary in summaries] == [
        (300, True),
        (300, True),
    ]
    assert summaries[0].queue_name != summaries[1].queue_name

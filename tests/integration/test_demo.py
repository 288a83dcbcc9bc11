"""The demo (the main job) on the test database: every message archived exactly once."""

from __future__ import annotations

from pgqrs import demo, sync


def test_demo_runs_end_to_end_and_checks_delivery(config: sync.Config) -> None:
    last: dict[str, tuple[int, int]] = {}

    def progress(phase: str, done: int, total: int) -> None:
        last[phase] = (done, total)

    summary = demo.run(config, messages=1_000, workers=3, batch_size=50, progress=progress)
    assert last == {"enqueue": (1_000, 1_000), "process": (1_000, 1_000)}
    assert summary.every_message_archived_once
    assert (summary.archived, summary.archived_distinct, summary.remaining) == (1_000, 1_000, 0)
    assert summary.duplicates_seen == 0
    assert summary.metrics.archived_count == 1_000
    assert summary.enqueue_per_second > 0
    assert summary.process_per_second > 0
    assert summary.as_dict()["every_message_archived_once"] is True


def test_demo_rerun_starts_from_an_empty_queue(config: sync.Config) -> None:
    demo.run(config, messages=120, workers=1, batch_size=100)
    summary = demo.run(config, messages=80, workers=2, batch_size=30)
    assert summary.every_message_archived_once
    assert summary.archived == 80

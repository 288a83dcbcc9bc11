"""The harness's memory probes (`--memory`): each child drains or sends everything it is given.

The peaks themselves are figures for docs/performance.md, not asserted here (they depend on the
machine); what is checked is that every probe measures a child that did all the work.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgqrs import sync as pgqrs
from pgqrs.bench import memory
from pgqrs.bench.environment import Environment


@pytest.fixture
def environment(dsn: str) -> Iterator[Environment]:
    environment = Environment.create(dsn)
    yield environment
    environment.close()


def test_every_probe_reports_the_peak_of_a_child_that_did_all_the_work(environment: Environment) -> None:
    report = memory.measure(environment, (200, 400), None)
    assert set(report) == {
        "consumer (drain, batch 100)",
        f"runtime (pgqrs.App, concurrency {memory.RUNTIME_CONCURRENCY}, archive)",
        "producer (pgqrs message send -)",
    }
    for figures in report.values():
        peaks = figures["peak_rss_kib"]
        assert set(peaks) == {200, 400}
        assert all(peak > 10_000 for peak in peaks.values())  # a Python process, not a failed one
        assert figures["growth_kib"] == peaks[400] - peaks[200]


def test_the_runtime_probe_archives_every_message(environment: Environment) -> None:
    with pgqrs.PgqrsAdmin.connect(environment.config) as admin:
        memory.consumer_peak(environment, admin, 300, "runtime")  # checks 300 were handled
        (queue,) = admin.list_queues()
        assert admin.queue_metrics(queue.queue_name).archived_count == 300

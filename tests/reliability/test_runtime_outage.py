"""Scenario 21 - the worker runtime rides through an outage (a server restart, a failover).

A blocking app works through a TCP proxy. Its handler returns while the link is cut, and the
link stays cut for longer than the settler's few quick retries (about 3 s in all), as during a
failover. The result is written once the link heals, under the lease the handler ran with: the
message is archived once, by that delivery (read_ct 1), and never delivered again. Before, the
settler gave up after its retries and the message was run a second time one lease later.
deploy/topology/ does the same with a real failover (kill -9 of the primary, a promoted replica).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pgqrs import sync as pgqrs
from tests.reliability import harness, proxy

OUTAGE = 15.0  # seconds the link stays cut: past the bounded retries, old (~12 s here) and new (~4 s)


def _archived(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, timeout: float) -> list[Any]:
    """Wait until the queue's message is archived; return the archive's rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = admin.archive.filter_by_fk(queue.id)
        if rows:
            return rows
        time.sleep(0.1)
    return []


def test_a_result_that_comes_during_an_outage_is_written_when_it_ends(
    admin: pgqrs.PgqrsAdmin, link: proxy.TcpProxy, figures: dict[str, Any]
) -> None:
    queue = admin.create_queue("outage")
    pgqrs.Producer(admin.pool, queue, admin.config).enqueue({"n": 1})
    started, finish = threading.Event(), threading.Event()
    deliveries: list[int] = []
    app = pgqrs.App()

    @app.handler("outage", lock_time=60)
    def handle(message: pgqrs.QueueMessage) -> None:
        deliveries.append(message.read_ct)
        started.set()
        finish.wait(60)

    config = link.config_for(admin.config, connection_timeout_seconds=0.5, poll_interval=0.2)
    running = harness.CallInThread(lambda: app.run(config, shutdown_timeout=5))
    assert started.wait(60), "the handler never ran"
    link.cut()
    finish.set()  # the result is handed to the settler while no connection gets through
    time.sleep(OUTAGE)
    link.heal()
    archived = _archived(admin, queue, 60)
    app.stop()
    stats = running.result(60)
    figures.update(outage_seconds=OUTAGE, deliveries=len(deliveries), archived=len(archived))
    assert deliveries == [1]
    assert [row.read_ct for row in archived] == [1]
    assert (stats.handled, stats.succeeded) == (1, 1)

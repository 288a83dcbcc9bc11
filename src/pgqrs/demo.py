"""`pgqrs demo`: the whole life of a queue in one run, with figures.

Installs the schema if needed, creates a queue of its own (``demo_<random>``: demos running at
once on one database never take each other's messages), enqueues N messages in batches, drains
them with the worker runtime, then checks that every message was archived exactly once and
reports throughput. The draining is W apps (`pgqrs.App`, W workers competing for the queue, as
W processes would), each with one handler of B at once that archives what it handles and
leases up to its free handlers in one statement. The queue, its archive and its workers are
removed at the end, however the run ends. Used by the CLI; callable from Python too.

Interrupted (Ctrl-C, which `asyncio.run` turns into cancelling the run), every app stops at
once, gives back what it holds and marks its worker stopped before the queue is removed and
KeyboardInterrupt is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any

from pgqrs import config as config_module
from pgqrs import errors, models
from pgqrs._async import admin as admin_module
from pgqrs._async import app as app_module
from pgqrs._async import producer as producer_module

QUEUE_PREFIX = "demo_"
Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What a demo run did and measured."""

    queue_name: str
    messages: int
    workers: int
    batch_size: int
    enqueue_seconds: float
    enqueue_per_second: float
    process_seconds: float
    process_per_second: float
    handled: int
    archived: int
    archived_distinct: int
    duplicates_seen: int
    remaining: int
    metrics: models.QueueMetrics

    @property
    def every_message_archived_once(self) -> bool:
        """Return True when each enqueued message is in the archive exactly once."""
        return self.archived == self.archived_distinct == self.messages and self.remaining == 0

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data (for JSON)."""
        data = dataclasses.asdict(self)
        data["metrics"] = models.as_dict(self.metrics)
        data["every_message_archived_once"] = self.every_message_archived_once
        return data


def run(
    config: config_module.Config,
    messages: int = 10_000,
    workers: int = 2,
    batch_size: int = 100,
    work_seconds: float = 0.0,
    progress: Progress | None = None,
) -> DemoSummary:
    """Run the demo to completion and return its summary (blocking)."""
    return asyncio.run(run_async(config, messages, workers, batch_size, work_seconds, progress))


async def run_async(
    config: config_module.Config,
    messages: int = 10_000,
    workers: int = 2,
    batch_size: int = 100,
    work_seconds: float = 0.0,
    progress: Progress | None = None,
) -> DemoSummary:
    """Run the demo on the event loop and return its summary."""
    report = progress or (lambda phase, done, total: None)
    async with await admin_module.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        queue = await admin.create_queue(f"{QUEUE_PREFIX}{secrets.token_hex(4)}")
        try:
            summary = await _measure(
                admin, queue, config, messages, workers, batch_size, work_seconds, report
            )
        except BaseException:
            # The failure or interruption is what to report, even if the database is gone too.
            with contextlib.suppress(errors.PgqrsError):
                await _remove(admin, queue.queue_name)
            raise
        await _remove(admin, queue.queue_name)
    return summary


async def _measure(
    admin: admin_module.PgqrsAdmin,
    queue: models.QueueInfo,
    config: config_module.Config,
    messages: int,
    workers: int,
    batch_size: int,
    work_seconds: float,
    report: Progress,
) -> DemoSummary:
    started = time.perf_counter()
    await _enqueue(producer_module.Producer(admin.pool, queue, config), messages, batch_size, report)
    enqueue_seconds = time.perf_counter() - started

    drained = _Drained(started=time.perf_counter())
    await _drain(admin, queue, config, messages, workers, batch_size, work_seconds, report, drained)
    process_seconds = (drained.archived_all_at or time.perf_counter()) - drained.started

    seen = drained.seen
    handled = len(seen)
    archived, distinct = await admin.archive.delivery_summary(queue.id)
    metrics = await admin.queue_metrics(queue.queue_name)
    return DemoSummary(
        queue_name=queue.queue_name,
        messages=messages,
        workers=workers,
        batch_size=batch_size,
        enqueue_seconds=enqueue_seconds,
        enqueue_per_second=messages / enqueue_seconds if enqueue_seconds else 0.0,
        process_seconds=process_seconds,
        process_per_second=messages / process_seconds if process_seconds else 0.0,
        handled=handled,
        archived=archived,
        archived_distinct=distinct,
        duplicates_seen=len(seen) - len(set(seen)),
        remaining=metrics.total_messages,
        metrics=metrics,
    )


async def _remove(admin: admin_module.PgqrsAdmin, name: str) -> None:
    """Delete the demo's queue with its messages, archive and workers."""
    # An interrupted statement has ended by now: psycopg waits for the server to cancel it.
    await admin.purge_queue(name)
    await admin.delete_queue(name)


async def _enqueue(
    producer: producer_module.Producer, messages: int, batch_size: int, report: Progress
) -> None:
    sent = 0
    while sent < messages:
        size = min(batch_size, messages - sent)
        await producer.batch_enqueue([{"type": "demo", "n": sent + index} for index in range(size)])
        sent += size
        report("enqueue", sent, messages)


@dataclasses.dataclass
class _Drained:
    """What the apps did: the ids their handlers saw, and when the last message was archived
    (the processing time ends there: the apps then take a moment to stop)."""

    started: float
    seen: list[int] = dataclasses.field(default_factory=list)
    archived_all_at: float | None = None
    reported: int = -1

    def look(self, apps: list[app_module.App], messages: int, report: Progress) -> None:
        """Note how many messages the apps have archived; report it if it changed."""
        archived = sum(app.stats.succeeded for app in apps)
        if archived >= messages and self.archived_all_at is None:
            self.archived_all_at = time.perf_counter()
        if archived != self.reported:
            self.reported = archived
            report("process", archived, messages)


async def _drain(
    admin: admin_module.PgqrsAdmin,
    queue: models.QueueInfo,
    config: config_module.Config,
    messages: int,
    workers: int,
    batch_size: int,
    work_seconds: float,
    report: Progress,
    drained: _Drained,
) -> None:
    """Work the queue with `workers` apps until it is empty."""
    apps = [_app(queue.queue_name, batch_size, work_seconds, drained.seen) for _ in range(workers)]
    runs = [asyncio.create_task(app.run(config, until_empty=True)) for app in apps]
    watch = asyncio.create_task(_watch(apps, messages, report, drained))
    try:
        await asyncio.gather(*runs)
    except BaseException:
        # Interrupted (gather has cancelled every run), or one app failed: stop them all now.
        for app in apps:
            app.stop(immediate=True)
        raise
    finally:
        watch.cancel()
        # Wait until each app has given back what it held and marked its worker stopped,
        # before the caller removes the queue and closes the pool under them.
        await asyncio.wait([*runs, watch])
    drained.look(apps, messages, report)  # the last count, however soon the apps ended


def _app(queue_name: str, concurrency: int, work_seconds: float, seen: list[int]) -> app_module.App:
    app = app_module.App()

    @app.handler(queue_name, concurrency=concurrency, on_success="archive")
    async def work(message: models.QueueMessage) -> None:
        seen.append(message.id)
        if work_seconds:
            await asyncio.sleep(work_seconds)

    return app


async def _watch(apps: list[app_module.App], messages: int, report: Progress, drained: _Drained) -> None:
    """Report progress as the apps archive, and note when they have archived every message."""
    while True:
        drained.look(apps, messages, report)
        await asyncio.sleep(0.01)

"""`pgqrs demo`: the main job. Enqueue, consume with several workers, archive, check, report."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from pgqrs import demo
from pgqrs.cli import failures, options, output
from pgqrs.cli import session as session_module

_Count = Annotated[int, typer.Option(min=1, help="Messages to enqueue and process.")]
# Each worker is a runtime with connections of its own (fetch, settle, renew, listen): 16 of
# them stay well within a server's default 100 connections.
_Workers = Annotated[
    int, typer.Option(min=1, max=16, help="Workers (pgqrs.App runs) competing for the queue.")
]
_Batch = Annotated[
    int,
    typer.Option(
        "--batch-size", min=1, max=10_000, help="Messages per enqueue batch, and handlers per worker at once."
    ),
]
_Work = Annotated[
    float, typer.Option("--work-ms", min=0, help="Simulated processing time per message, in milliseconds.")
]


def register(app: typer.Typer) -> None:
    """Add `demo` to the top-level command."""
    app.command("demo")(run_demo)


def run_demo(
    context: typer.Context,
    messages: _Count = 10_000,
    workers: _Workers = 2,
    batch_size: _Batch = 100,
    work_ms: _Work = 0.0,
) -> None:
    """Run pgqrs end to end: enqueue, work the queue with the worker runtime, check, report msg/s.

    Uses a queue of its own (demo_<random>), removed at the end, even when interrupted.

    Without any DSN configured it runs on the embedded PostgreSQL server.
    """
    session = options.session_of(context)
    config = session.config()
    if session.embedded_fallback:
        session_module.announce_embedded()
    with _live_progress() as report:
        summary = demo.run(config, messages, workers, batch_size, work_ms / 1000, report)
    output.show_document(session, summary.as_dict(), _summary_text(summary))
    if not summary.every_message_archived_once:
        raise failures.CommandFailed("delivery check failed: see the summary above")


@contextlib.contextmanager
def _live_progress() -> Iterator[demo.Progress]:
    """Yield a progress callback: two live bars when stderr is a terminal, else nothing."""
    if not sys.stderr.isatty():
        yield lambda phase, done, total: None
        return
    columns = (TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(phase, total=total)
            bars.update(tasks[phase], completed=done)

        yield report


def _summary_text(summary: demo.DemoSummary) -> str:
    metrics = summary.metrics
    check = "every message archived exactly once" if summary.every_message_archived_once else "FAILED"
    return "\n".join(
        [
            f"queue {summary.queue_name!r}: {summary.messages} messages in batches of {summary.batch_size}",
            f"workers:    {summary.workers} (pgqrs.App runs), {summary.batch_size} handlers at once each",
            f"enqueue:    {summary.enqueue_per_second:>10,.0f} msg/s ({summary.enqueue_seconds:.2f} s)",
            f"processing: {summary.process_per_second:>10,.0f} msg/s ({summary.process_seconds:.2f} s)",
            f"metrics:    total={metrics.total_messages} pending={metrics.pending_count} "
            f"locked={metrics.locked_count} archived={metrics.archived_count} "
            f"dead={metrics.dead_letter_count}",
            f"handled:    {summary.handled} by the handlers, {summary.archived} archived "
            f"({summary.archived_distinct} distinct)",
            f"check:      {check}",
        ]
    )

"""`pgqrs queue create|list|delete|purge|metrics`."""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs.cli import options, output

DedupWindow = Annotated[
    float,
    typer.Option(
        "--dedup-window",
        min=0,
        help="Seconds the dedup key of an acknowledged message stays reserved (0: free at once).",
    ),
]

app = typer.Typer(help="Create, list, delete and purge queues; show their metrics.", no_args_is_help=True)


@app.command("create")
def create(context: typer.Context, queue: options.Queue, dedup_window: DedupWindow = 0) -> None:
    """Create a queue and print it (exit 1 if it exists)."""
    session = options.session_of(context)
    with session.admin() as admin:
        created = admin.create_queue(queue, dedup_window=dedup_window)
    output.show_record(session, created)


@app.command("set-dedup-window")
def set_dedup_window(context: typer.Context, queue: options.Queue, seconds: float) -> None:
    """Set how long the dedup keys of a queue's acknowledged messages stay reserved (0: off)."""
    session = options.session_of(context)
    with session.admin() as admin:
        changed = admin.set_dedup_window(queue, seconds)
    output.show_record(session, changed)


@app.command("list")
def list_queues(context: typer.Context) -> None:
    """List every queue, oldest first."""
    session = options.session_of(context)
    with session.admin() as admin:
        queues = admin.list_queues()
    output.show_records(session, queues, output.QUEUE_COLUMNS, empty="no queues")


@app.command("delete")
def delete(context: typer.Context, queue: options.Queue) -> None:
    """Delete an empty queue with its archive and workers (purge it first)."""
    session = options.session_of(context)
    with session.admin() as admin:
        admin.delete_queue(queue)
    output.show_document(session, {"queue": queue, "deleted": True}, f"queue {queue!r} deleted")


@app.command("purge")
def purge(context: typer.Context, queue: options.Queue) -> None:
    """Delete every message of a queue, leased or not (the archive is kept)."""
    session = options.session_of(context)
    with session.admin() as admin:
        purged = admin.purge_queue(queue)
    output.show_document(
        session, {"queue": queue, "purged": purged}, f"{purged} message(s) purged from queue {queue!r}"
    )


@app.command("metrics")
def metrics(context: typer.Context, queue: options.OptionalQueue = None) -> None:
    """Show a queue's counts (pending, locked, delayed, archived, ...), or every queue's."""
    session = options.session_of(context)
    with session.admin() as admin:
        if queue is not None:
            output.show_record(session, admin.queue_metrics(queue))
            return
        every = admin.all_queues_metrics()
    output.show_records(session, every, output.METRICS_COLUMNS, empty="no queues")

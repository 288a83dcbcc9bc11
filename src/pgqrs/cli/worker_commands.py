"""`pgqrs worker list|remove-stale`: the consumers registered in pgqrs_workers."""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs.cli import options, output

app = typer.Typer(help="List registered workers and remove stale ones.", no_args_is_help=True)


@app.command("list")
def list_workers(context: typer.Context, queue: options.OptionalQueue = None) -> None:
    """List the workers of a queue, or of every queue."""
    session = options.session_of(context)
    with session.admin() as admin:
        workers = admin.list_workers(queue)
    output.show_records(session, workers, output.WORKER_COLUMNS, empty="no workers")


@app.command("remove-stale")
def remove_stale(
    context: typer.Context,
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than",
            help="Remove workers without a heartbeat for this many seconds (database clock).",
            callback=options.check_seconds,
            show_default=False,
        ),
    ],
) -> None:
    """Delete the workers whose last heartbeat is older than --older-than seconds."""
    session = options.session_of(context)
    with session.admin() as admin:
        removed = admin.remove_stale_workers(older_than)
    output.show_document(
        session,
        {"removed": removed, "older_than_seconds": older_than},
        f"{removed} stale worker(s) removed",
    )

"""`pgqrs archive list`: the history of acknowledged and dead-lettered messages."""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs.cli import options, output

app = typer.Typer(help="View archived messages.", no_args_is_help=True)


@app.command("list")
def list_archive(
    context: typer.Context,
    queue: options.Queue,
    count: Annotated[int, typer.Option("--count", "-n", help="Most records to list.", min=1)] = 100,
) -> None:
    """List a queue's archived messages, newest first (msg_id is the message's original id)."""
    session = options.session_of(context)
    with session.admin() as admin:
        records = admin.archive.filter_by_fk(admin.get_queue(queue).id, limit=count)
    output.show_records(session, records, output.ARCHIVE_COLUMNS, empty="no archived messages")

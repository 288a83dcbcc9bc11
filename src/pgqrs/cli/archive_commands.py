"""`pgqrs archive list|dead-letters|requeue|purge`: the history of acknowledged and dead-lettered
messages."""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs import _validation, errors
from pgqrs.cli import failures, options, output

app = typer.Typer(help="View, requeue and purge archived messages.", no_args_is_help=True)


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


# The archive record's own id first: it is what `pgqrs archive requeue` takes.
DEAD_LETTER_COLUMNS: list[output.Column] = [
    ("id", "id"),
    ("original_msg_id", "msg_id"),
    ("read_ct", "read_ct"),
    ("archived_at", "archived_at"),
    ("dead_letter_reason", "reason"),
]


@app.command("dead-letters")
def dead_letters(
    context: typer.Context,
    queue: options.Queue,
    count: Annotated[int, typer.Option("--count", "-n", help="Most records to list.", min=1)] = 100,
    after: Annotated[
        int, typer.Option("--after", help="List records whose id is greater (paging).", min=0)
    ] = 0,
) -> None:
    """List a queue's dead letters in id order, with their reasons (--format json: errors too)."""
    session = options.session_of(context)
    with session.admin() as admin:
        records = admin.dead_letters(queue, limit=count, after_id=after or None)
    output.show_records(session, records, DEAD_LETTER_COLUMNS, empty="no dead letters")


@app.command("requeue")
def requeue(
    context: typer.Context,
    queue: options.Queue,
    ids: Annotated[
        list[int] | None,
        typer.Argument(
            help="Archive record ids of dead letters (the id column of dead-letters).",
            metavar="[ID]...",
            min=1,
            max=options.MAX_MESSAGE_ID,
            show_default=False,
        ),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Requeue every dead letter of the queue.")] = False,
) -> None:
    """Put dead letters back on their queue as new messages (attempts reset, last error kept)."""
    if bool(ids) == every:
        raise failures.UsageFailure("give the dead letters' ids or --all (one of them)")
    session = options.session_of(context)
    with session.admin() as admin:
        moved = admin.requeue_dead_letters(queue, None if every else list(ids or []))
    pairs = [{"id": record_id, "msg_id": message_id} for record_id, message_id in moved.items()]
    output.show_document(
        session, {"requeued": len(moved), "messages": pairs}, f"{len(moved)} dead letter(s) requeued"
    )
    missing = sorted(set(ids or []) - set(moved))
    if missing:
        # Like rm with a missing file: the others were requeued; the exit code says not all.
        raise failures.CommandFailed(
            f"not dead letters of queue {queue}: {', '.join(map(str, missing))}"
        )


@app.command("purge")
def purge(
    context: typer.Context,
    queue: options.OptionalQueue = None,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete the records archived longer ago than this: 7d, 12h, 30m, 45s, 2w.",
            show_default=False,
        ),
    ] = "",
    dead_letters: Annotated[
        bool, typer.Option("--dead-letters", help="Delete old dead letters too (kept otherwise).")
    ] = False,
) -> None:
    """Delete old archive records of a queue (or of every queue), in short batches."""
    if not older_than:
        raise failures.UsageFailure("give --older-than (for example --older-than 7d)")
    try:
        seconds = _validation.duration(older_than, "--older-than")
    except errors.ValidationError as error:
        raise failures.UsageFailure(str(error)) from None
    session = options.session_of(context)
    with session.admin() as admin:
        removed = admin.purge_archive(queue, older_than=seconds, dead_letters=dead_letters)
    output.show_document(
        session,
        {"queue": queue, "older_than_seconds": seconds, "dead_letters": dead_letters, "purged": removed},
        f"{removed} archive record(s) purged",
    )

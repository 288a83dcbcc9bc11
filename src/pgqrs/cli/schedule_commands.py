"""`pgqrs schedule add|list|remove`: the periodic jobs every worker runtime on the schema runs."""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs import schedules
from pgqrs.cli import options, output

app = typer.Typer(
    help="Add, list and remove periodic jobs (run by every `pgqrs worker run` on the schema).",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="Schedule name (unique on the schema).", show_default=False)]


@app.command("add")
def add(
    context: typer.Context,
    name: Name,
    queue: Annotated[
        str,
        typer.Option(
            "--queue",
            "-q",
            help="Queue to enqueue on.",
            callback=options.check_queue_name,
            show_default=False,
        ),
    ],
    cron: Annotated[
        str | None,
        typer.Option(help='Cron expression: 5 fields, or 6 with seconds first ("*/2 * * * * *").'),
    ] = None,
    every: Annotated[
        float | None, typer.Option(help="Instead of --cron: an interval in seconds (at least 1).")
    ] = None,
    payload: Annotated[
        str, typer.Option(help="The messages' JSON payload.", callback=options.check_payload)
    ] = "{}",
    timezone: Annotated[str, typer.Option(help="IANA time zone the cron expression is read in.")] = "UTC",
    priority: Annotated[int, typer.Option(help="The messages' priority (0-100).")] = 0,
    catch_up: Annotated[
        bool,
        typer.Option(help="After downtime, enqueue the latest missed tick once (or, with no-, none)."),
    ] = True,
    replace: Annotated[bool, typer.Option("--replace", help="Redefine the schedule of this name.")] = False,
) -> None:
    """Add a periodic job and print it (exit 1 if the name is taken, unless --replace)."""
    # Checked before connecting: a bad cron expression or time zone is a usage error (exit 2).
    schedule = schedules.Schedule(
        name, queue, cron, every, timezone, options.parse_payload(payload), priority, catch_up
    )
    session = options.session_of(context)
    with session.admin() as admin:
        stored = admin.add_schedule(schedule, replace=replace)
    output.show_record(session, stored)


@app.command("list")
def list_schedules(context: typer.Context) -> None:
    """List every periodic job, by name."""
    session = options.session_of(context)
    with session.admin() as admin:
        stored = admin.list_schedules()
    output.show_records(session, stored, output.SCHEDULE_COLUMNS, empty="no schedules")


@app.command("remove")
def remove(context: typer.Context, name: Name) -> None:
    """Remove a periodic job (messages it enqueued stay on their queue)."""
    session = options.session_of(context)
    with session.admin() as admin:
        admin.remove_schedule(name)
    output.show_document(session, {"schedule": name, "removed": True}, f"schedule {name!r} removed")

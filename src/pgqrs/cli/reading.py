"""`pgqrs message read`: lease messages (or, with --archive, view the archive).

``--archive`` looks at the archive, as it does for ``message count`` and ``message show``: it
lists archived messages, newest first, and changes nothing. It never archives what it reads
(that would make a viewing flag destructive).

``--message-type TYPE`` keeps the messages whose payload is an object with ``"type": TYPE``;
the database does the filtering, so messages of other types are never leased.

The leases are taken by a one-shot consumer (`consuming`): what it does not print it releases,
and it leaves a worker record only while the user holds leases it printed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs.cli import consuming, failures, options, output


def read(
    context: typer.Context,
    queue: options.Queue,
    count: Annotated[int, typer.Option("--count", "-n", help="Most messages to read.", min=1)] = 1,
    lock_time: Annotated[
        float | None,
        typer.Option(
            "--lock-time",
            help="Seconds the messages stay leased (default: default_lock_time_seconds).",
            callback=options.check_seconds,
            show_default=False,
        ),
    ] = None,
    message_type: Annotated[
        str | None,
        typer.Option(
            "--message-type", help='Only messages whose payload has "type": TYPE.', show_default=False
        ),
    ] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="List archived messages, newest first (nothing is leased).")
    ] = False,
) -> None:
    """Lease up to --count visible messages for --lock-time seconds and print them."""
    session = options.session_of(context)
    if archive and lock_time is not None:
        raise failures.UsageFailure("--lock-time does not apply to --archive: the archive is only viewed")
    with session.admin() as admin:
        queue_info = admin.get_queue(queue)
        if archive:
            archived = admin.archive.filter_by_fk(queue_info.id, limit=count, message_type=message_type)
            output.show_records(session, archived, output.ARCHIVE_COLUMNS, empty="no archived messages")
            return
        with consuming.one_shot(admin, queue_info) as consumer:
            leased = consumer.lease(count, lock_time, message_type)
            # Printed before the leases are the user's: if the printing fails or is interrupted,
            # they are released rather than left invisible to everyone for --lock-time.
            output.show_records(session, leased, output.MESSAGE_COLUMNS, empty="no visible messages")
            consumer.hand_over()

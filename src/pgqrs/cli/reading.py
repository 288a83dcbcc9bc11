"""`pgqrs message read`: lease messages (or, with --archive, view the archive).

``--archive`` looks at the archive, as it does for ``message count`` and ``message show``: it
lists archived messages, newest first, and changes nothing. It never archives what it reads
(that would make a viewing flag destructive).

``--message-type TYPE`` keeps the messages whose payload is an object with ``"type": TYPE``.
The library cannot filter a dequeue or release a lease yet, so the filter runs here, after the
lease: the other messages read stay leased for the lock time (and their read_ct grew). The
command says so on stderr, naming them, instead of hiding it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pgqrs import models, sync
from pgqrs.cli import failures, options, output
from pgqrs.cli import session as session_module


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
            archived = _archived(admin, queue_info, count, message_type)
        else:
            with sync.Consumer(admin.pool, queue_info, admin.config) as consumer:
                leased = consumer.dequeue_batch(count, lock_time)
    if archive:
        output.show_records(session, archived, output.ARCHIVE_COLUMNS, empty="no archived messages")
        return
    matching = [message for message in leased if has_type(message.payload, message_type)]
    _warn_about_others(
        session, [message for message in leased if not has_type(message.payload, message_type)]
    )
    output.show_records(session, matching, output.MESSAGE_COLUMNS, empty="no visible messages")


def has_type(payload: Any, message_type: str | None) -> bool:
    """Return True if no type is asked for, or the payload is an object of that "type"."""
    return message_type is None or (isinstance(payload, dict) and payload.get("type") == message_type)


def _archived(
    admin: sync.PgqrsAdmin, queue_info: models.QueueInfo, count: int, message_type: str | None
) -> list[models.ArchivedMessage]:
    if message_type is None:
        return admin.archive.filter_by_fk(queue_info.id, limit=count)
    # No server-side filter yet: scan the archive (newest first) and keep the first matches.
    records = admin.archive.filter_by_fk(queue_info.id)
    return [record for record in records if has_type(record.payload, message_type)][:count]


def _warn_about_others(session: session_module.Session, others: list[models.QueueMessage]) -> None:
    if not others:
        return
    ids = ", ".join(str(message.id) for message in others)
    until = max(message.vt for message in others)
    output.note(
        session,
        f"pgqrs: warning: {len(others)} message(s) of other types were leased too and stay invisible "
        f"until {output.cell(until)} (ids {ids}); pgqrs cannot release a lease yet",
    )

"""`pgqrs message read`: lease messages (or, with --archive, view the archive).

``--archive`` looks at the archive, as it does for ``message count`` and ``message show``: it
lists archived messages, newest first, and changes nothing. It never archives what it reads
(that would make a viewing flag destructive).

``--message-type TYPE`` keeps the messages whose payload is an object with ``"type": TYPE``.
The library cannot filter a dequeue yet, so the filter runs here: messages are leased in small
rounds (``--count`` first, then doubling up to default_max_batch_size) until enough match or no
visible message is left; every other message leased on the way, and any match beyond
``--count``, is given back with `Consumer.release_batch` before the command ends (visible at
once, read_ct restored), so nothing that does not match stays leased. With a lock time shorter
than the scan (``--lock-time 0``) a message may come back and be leased twice before the scan
stops; its read_ct then ends one higher.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from pgqrs import models, sync
from pgqrs.cli import failures, options, output

logger = logging.getLogger("pgqrs.cli")


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
                leased = lease(consumer, count, lock_time, message_type)
    if archive:
        output.show_records(session, archived, output.ARCHIVE_COLUMNS, empty="no archived messages")
        return
    output.show_records(session, leased, output.MESSAGE_COLUMNS, empty="no visible messages")


def lease(
    consumer: sync.Consumer, count: int, lock_time: float | None, message_type: str | None
) -> list[models.QueueMessage]:
    """Lease up to `count` visible messages of `message_type` (any type when None)."""
    if message_type is None:
        return consumer.dequeue_batch(count, lock_time)
    matching: list[models.QueueMessage] = []
    others: list[models.QueueMessage] = []
    seen: set[int] = set()
    size = count
    ceiling = max(count, consumer.config.default_max_batch_size)
    try:
        while len(matching) < count:
            # What was leased is still held, so a round sees new messages; a lease shorter than
            # the scan (--lock-time 0) lets old ones come back: then the scan has gone round.
            leased = consumer.dequeue_batch(size, lock_time)
            fresh = [message for message in leased if message.id not in seen]
            for message in fresh:
                seen.add(message.id)
                wanted = has_type(message.payload, message_type) and len(matching) < count
                (matching if wanted else others).append(message)
            if len(fresh) < len(leased) or not leased:
                break
            size = min(size * 2, ceiling)
    finally:
        if others:
            consumer.release_batch([message.id for message in others])
            logger.info("released %d leased message(s) not of type %r", len(others), message_type)
    return matching


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

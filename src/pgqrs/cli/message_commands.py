"""`pgqrs message send|read|dequeue|delete|count|show`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pgqrs import _validation, errors, models, sync
from pgqrs.cli import consuming, failures, options, output, reading, send_options, sending

app = typer.Typer(help="Send, read, dequeue, delete, count and show messages.", no_args_is_help=True)
app.command("read")(reading.read)


@app.command("send")
def send(
    context: typer.Context,
    queue: options.Queue,
    payload: Annotated[
        str,
        typer.Argument(
            help="JSON payload, or - to send each line of stdin (JSON lines) in batches.",
            metavar="PAYLOAD",
            callback=options.check_payload,
            show_default=False,
        ),
    ],
    delay: Annotated[
        float,
        typer.Option(
            "--delay", help="Seconds before the message becomes visible.", callback=options.check_seconds
        ),
    ] = 0,
    priority: send_options.Priority = 0,
    at: send_options.At = None,
    dedup_key: send_options.DedupKey = None,
) -> None:
    """Send a message and print it (with -, send stdin's JSON lines and print the count)."""
    session = options.session_of(context)
    when = send_options.parse_time(at)
    if when is not None and delay:
        raise failures.UsageFailure("give --delay or --at, not both")
    if payload == "-":
        if dedup_key is not None:
            raise failures.UsageFailure("--dedup-key names one message: it cannot go with - (many lines)")
        sending.send_lines(session, queue, delay, sys.stdin.buffer, priority=priority, at=when)
        return
    value = options.parse_payload(payload)
    # The size limit is a setting: check it before connecting.
    _validation.encode_payload(value, session.config().max_payload_bytes)
    with session.admin() as admin:
        producer = admin.producer(queue)
        if when is not None:
            message = producer.enqueue_at(value, when, priority=priority, dedup_key=dedup_key)
        else:
            message = producer.enqueue_delayed(value, delay, priority=priority, dedup_key=dedup_key)
    output.show_record(session, message)


@app.command("dequeue")
def dequeue(context: typer.Context, queue: options.Queue) -> None:
    """Take the next visible message, delete it and print it (exit 1 when there is none)."""
    session = options.session_of(context)
    with session.admin() as admin, consuming.one_shot(admin, admin.get_queue(queue)) as consumer:
        message = consumer.take()
    if message is None:
        raise errors.NotFoundError(f"queue {queue!r} has no visible message")
    output.show_record(session, message)


@app.command("delete")
def delete(context: typer.Context, queue: options.Queue, message_id: options.MessageId) -> None:
    """Delete a message whatever its lease (administrative); exit 1 when there is no such message."""
    session = options.session_of(context)
    with session.admin() as admin:
        in_queue(admin, queue, message_id)
        if not admin.messages.delete(message_id):
            raise _not_in_queue(queue, message_id)
    output.show_document(
        session,
        {"queue": queue, "id": message_id, "deleted": True},
        f"message {message_id} deleted from queue {queue!r}",
    )


@app.command("count")
def count(context: typer.Context, queue: options.Queue, archive: options.Archive = False) -> None:
    """Print how many messages the queue holds (visible, leased or delayed), or its archive."""
    session = options.session_of(context)
    with session.admin() as admin:
        queue_info = admin.get_queue(queue)
        table = admin.archive if archive else admin.messages
        total = table.count_by_fk(queue_info.id)
    output.show_document(session, {"queue": queue, "archive": archive, "count": total}, str(total))


@app.command("show")
def show(
    context: typer.Context,
    queue: options.Queue,
    message_id: options.MessageId,
    archive: options.Archive = False,
) -> None:
    """Print one message; with --archive, the archive record of the message with this id."""
    session = options.session_of(context)
    with session.admin() as admin:
        record: models.QueueMessage | models.ArchivedMessage
        if archive:
            record = admin.archive.get_by_original_id(admin.get_queue(queue).id, message_id)
        else:
            record = in_queue(admin, queue, message_id)
    output.show_record(session, record)


def in_queue(admin: sync.PgqrsAdmin, queue: str, message_id: int) -> models.QueueMessage:
    """Return message `message_id` if it is in `queue`.

    Raises:
        QueueNotFound: No such queue.
        MessageNotFound: No such message in this queue.
    """
    queue_info = admin.get_queue(queue)
    try:
        message = admin.messages.get(message_id)
    except errors.MessageNotFound:
        raise _not_in_queue(queue, message_id) from None
    if message.queue_id != queue_info.id:
        raise _not_in_queue(queue, message_id)
    return message


def _not_in_queue(queue: str, message_id: int) -> errors.MessageNotFound:
    return errors.MessageNotFound(message_id, f"queue {queue!r} has no message {message_id}")

"""`pgqrs message send QUEUE -`: stream JSON lines from stdin to a queue, batch by batch.

Only one batch (default_max_batch_size lines) is held in memory. Each batch is checked whole
before it is sent in one statement (all or none), and the first batch is checked before
connecting. A bad line (not UTF-8, not JSON, refused by jsonb, too large) stops the command with
exit code 2 naming the line: the batches before it were sent, nothing from its batch on was,
and the message says which lines went in. Blank lines are skipped.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO

from pgqrs import errors
from pgqrs.cli import failures, options, output
from pgqrs.cli import session as session_module

Batch = tuple[list[Any], int]  # payloads, number of the batch's last line


class BadLine(Exception):
    """A line of the input cannot be sent."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


def send_lines(
    session: session_module.Session,
    queue: str,
    delay: float,
    stream: BinaryIO,
    *,
    priority: int = 0,
    at: datetime.datetime | None = None,
) -> None:
    """Send every JSON line of `stream` to `queue` (each batch with `delay` or `at`, and
    `priority`), then report the count.

    Raises:
        UsageFailure: A line cannot be sent (the message names it and what was sent before).
        CommandFailed: The database failed after some batches were sent (and says how many).
    """
    config = session.config()
    batches = _batches(stream, config.default_max_batch_size, config.max_payload_bytes)
    sent, last_line = 0, 0
    try:
        first = list(itertools.islice(batches, 1))
        with session.admin() as admin:
            producer = admin.producer(queue)
            with output.progress(stream) as advance:
                for payloads, last_line_of_batch in itertools.chain(first, batches):
                    producer.batch_enqueue(payloads, delay, at=at, priority=priority)
                    sent, last_line = sent + len(payloads), last_line_of_batch
                    advance(sent)
    except BadLine as bad:
        raise failures.UsageFailure(f"{bad}; {_progress_report(sent, last_line)}") from None
    except errors.PgqrsError as error:
        if sent == 0:
            raise
        raise failures.CommandFailed(f"{error.message}; {_progress_report(sent, last_line)}") from error
    except KeyboardInterrupt:
        raise failures.Interrupted(_progress_report(sent, last_line)) from None
    output.note(session, f"sent {sent} message(s) to queue {queue!r}")
    if session.json:
        output.show_document(session, {"queue": queue, "sent": sent}, "")


def _batches(stream: BinaryIO, size: int, max_bytes: int) -> Iterator[Batch]:
    batch: list[Any] = []
    number = 0
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLine(number, "not valid UTF-8") from None
        if not text.strip():
            continue
        try:
            batch.append(options.decode_payload(text, max_bytes))
        except errors.ValidationError as error:
            raise BadLine(number, error.message) from None
        if len(batch) == size:
            yield batch, number
            batch = []
    if batch:
        yield batch, number


def _progress_report(sent: int, last_line: int) -> str:
    if sent == 0:
        return "nothing was sent"
    return f"{sent} message(s) from lines 1-{last_line} were sent, nothing after line {last_line}"

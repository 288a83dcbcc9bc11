"""Argument and option types shared by the commands, declared once and checked while parsing.

Each check raises `typer.BadParameter`, so a bad value is a usage error (exit code 2) reported
before anything connects to the database.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from pgqrs import _validation, errors
from pgqrs.cli import global_options
from pgqrs.cli import session as session_module

# Larger than any configured limit: the real max_payload_bytes is checked once config is loaded.
_UNLIMITED = 1 << 62
MAX_MESSAGE_ID = 2**63 - 1


def session_of(context: typer.Context) -> session_module.Session:
    """Return the session the entry point attached to the command's context, options applied.

    Raises:
        typer.BadParameter: A global option's value is wrong.
    """
    session = context.find_root().obj
    assert isinstance(session, session_module.Session)
    global_options.apply(session)
    return session


def check_queue_name(value: str | None) -> str | None:
    """Return `value` if it is a valid queue name."""
    if value is None:
        return None
    try:
        return _validation.queue_name(value)
    except errors.ValidationError as error:
        raise typer.BadParameter(error.message) from None


def check_seconds(value: float | None) -> float | None:
    """Return `value` if it is a finite, non-negative number of seconds."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"must be a finite, non-negative number of seconds, got {value}")
    return value


def check_payload(value: str) -> str:
    """Return `value` if it is "-" (read stdin) or JSON that PostgreSQL accepts."""
    if value != "-":
        parse_payload(value)
    return value


def parse_payload(text: str) -> Any:
    """Return the JSON value `text` holds, or raise `typer.BadParameter` saying what is wrong."""
    try:
        return decode_payload(text, _UNLIMITED)
    except errors.ValidationError as error:
        raise typer.BadParameter(error.message) from None


def decode_payload(text: str, max_bytes: int) -> Any:
    """Return the JSON value `text` holds if PostgreSQL's jsonb accepts it within `max_bytes`.

    Raises:
        ValidationError: Not JSON, JSON that jsonb refuses (NaN, NUL, ...), or too large.
    """
    text = text.strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}" if "\n" in text else f"column {error.colno}"
        raise errors.ValidationError(f"invalid JSON: {error.msg} ({where})") from None
    except RecursionError:
        raise errors.ValidationError("invalid JSON: nested too deeply") from None
    _validation.encode_payload(value, max_bytes)
    return value


Queue = Annotated[
    str, typer.Argument(help="Queue name.", metavar="QUEUE", callback=check_queue_name, show_default=False)
]
OptionalQueue = Annotated[
    str | None,
    typer.Argument(
        help="Queue name (all queues when omitted).", metavar="[QUEUE]", callback=check_queue_name
    ),
]
MessageId = Annotated[
    int, typer.Argument(help="Message id.", metavar="ID", min=1, max=MAX_MESSAGE_ID, show_default=False)
]
Archive = Annotated[bool, typer.Option("--archive", help="Look at the queue's archive instead.")]

"""The enqueue options of `pgqrs message send`: --priority, --at and --dedup-key.

Checked while parsing (a bad value is a usage error, exit code 2, before anything connects),
with the library's own validation so the CLI and the API refuse the same values.
"""

from __future__ import annotations

import datetime
from typing import Annotated

import typer

from pgqrs import _validation, errors


def check_priority(value: int) -> int:
    """Return `value` if it is a priority the library accepts."""
    try:
        return _validation.priority(value)
    except errors.ValidationError as error:
        raise typer.BadParameter(error.message) from None


def parse_time(value: str | None) -> datetime.datetime | None:
    """Return an ISO 8601 time with its UTC offset (or Z) as an aware datetime."""
    if value is None:
        return None
    text = value.strip()
    try:
        when = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        return _validation.scheduled_time(when)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r} (e.g. 2030-01-02T09:30:00Z)") from None
    except errors.ValidationError:
        raise typer.BadParameter(f"{value!r} has no UTC offset: add Z or e.g. +02:00") from None


def check_time(value: str | None) -> str | None:
    """Return `value` if `parse_time` accepts it (checked while parsing, to name the option)."""
    parse_time(value)
    return value


def check_dedup_key(value: str | None) -> str | None:
    """Return `value` if it is None or a dedup key the library accepts."""
    try:
        return _validation.dedup_key(value)
    except errors.ValidationError as error:
        raise typer.BadParameter(error.message) from None


Priority = Annotated[
    int,
    typer.Option("--priority", help="0..100 (default 0); higher is leased first.", callback=check_priority),
]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Visible from this ISO 8601 time, with its offset (2030-01-02T09:30:00Z); not with --delay.",
        callback=check_time,
        show_default=False,
    ),
]
DedupKey = Annotated[
    str | None,
    typer.Option(
        "--dedup-key",
        help="Idempotency key: while a message with this key is in the queue, send nothing and "
        "print that message. One payload only.",
        callback=check_dedup_key,
        show_default=False,
    ),
]

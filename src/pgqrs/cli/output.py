"""Render a command's result as a table (rich) or as one JSON document, to stdout or --out.

JSON objects are keyed by the models' attribute names, lists are arrays and datetimes are ISO
8601 strings, so that ``jq`` can consume the output. Tables show datetimes in UTC and fit the
terminal (or $COLUMNS, or 80 columns); payloads are one-line JSON, wrapped when long. Human
messages that are not the result (progress, counts, warnings) go to stderr via `note`.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import shutil
import stat
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from rich import box
from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pgqrs import models, runtime
from pgqrs.cli import session as session_module

# (attribute, header) pairs: which fields a list shows in a table, and under what heading.
Column = tuple[str, str]

QUEUE_COLUMNS: list[Column] = [("id", "id"), ("queue_name", "queue_name"), ("created_at", "created_at")]
MESSAGE_COLUMNS: list[Column] = [
    ("id", "id"),
    ("read_ct", "read_ct"),
    ("enqueued_at", "enqueued_at"),
    ("vt", "vt"),
    ("payload", "payload"),
]
ARCHIVE_COLUMNS: list[Column] = [
    ("original_msg_id", "msg_id"),
    ("read_ct", "read_ct"),
    ("archived_at", "archived_at"),
    ("payload", "payload"),
    ("dead_letter_reason", "dead_letter"),
]
WORKER_COLUMNS: list[Column] = [
    ("id", "id"),
    ("queue_id", "queue_id"),
    ("hostname", "hostname"),
    ("pid", "pid"),
    ("status", "status"),
    ("heartbeat_at", "heartbeat_at"),
]
RUN_STATS_COLUMNS: list[Column] = [
    ("queue", "queue"),
    ("handled", "handled"),
    ("succeeded", "succeeded"),
    ("retried", "retried"),
    ("dead_lettered", "dead_lettered"),
    ("released", "released"),
]
SCHEDULE_COLUMNS: list[Column] = [
    ("name", "name"),
    ("queue_name", "queue"),
    ("timing", "when"),
    ("timezone", "timezone"),
    ("last_tick_at", "last_tick_at"),
]
METRICS_COLUMNS: list[Column] = [
    ("queue_name", "queue"),
    ("total_messages", "total"),
    ("pending_count", "pending"),
    ("locked_count", "locked"),
    ("delayed_count", "delayed"),
    ("archived_count", "archived"),
    ("dead_letter_count", "dead"),
]


# box.SIMPLE_HEAD drawn with '-', for terminals that cannot show '─'.
_ASCII_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


# Fields a table shows only when set: an enqueue answered by a dedup window's reservation is
# the only message with an acknowledged_at, and a row of '-' on every other one is noise.
_SHOWN_WHEN_SET = frozenset({"acknowledged_at"})


def show_record(session: session_module.Session, record: Any) -> None:
    """Write one model: a JSON object (every field), or a two-column field/value table."""
    fields = models.as_dict(record)
    if not session.json:
        fields = {k: v for k, v in fields.items() if v is not None or k not in _SHOWN_WHEN_SET}
    show_fields(session, fields)


def show_fields(session: session_module.Session, fields: dict[str, Any]) -> None:
    """Write named values: a JSON object, or a two-column field/value table."""
    if session.json:
        _write(session, _json(session, fields))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", no_wrap=True, style=None)
    table.add_column("value", overflow="fold")
    for field, value in fields.items():
        table.add_row(Text(field), _text(session, value))
    _write(session, _render(table))


def show_records(
    session: session_module.Session, records: Sequence[Any], columns: list[Column], empty: str
) -> None:
    """Write a list of models: a JSON array, or a table of `columns` (`empty` when none)."""
    if session.json:
        _write(session, _json(session, [models.as_dict(record) for record in records]))
        return
    if not records:
        _write(session, empty + "\n")
        return
    _write(session, _render(_records_table(session, records, columns)))


def show_run_stats(session: session_module.Session, stats: runtime.RunStats, queues: Sequence[str]) -> None:
    """Write what a worker run did: `stats.as_dict()` as JSON, or a table of `queues` and a total."""
    if session.json:
        _write(session, _json(session, stats.as_dict()))
        return
    rows = [_stats_row(name, stats.by_queue.get(name, runtime.RunStats())) for name in queues]
    rows.append(_stats_row("total", stats))
    _write(session, _render(_records_table(session, rows, RUN_STATS_COLUMNS)))


def _stats_row(queue: str, stats: runtime.RunStats) -> types.SimpleNamespace:
    counts = {name: getattr(stats, name) for name in runtime.SETTLEMENT_FIELDS}
    return types.SimpleNamespace(queue=queue, **counts)


def _records_table(session: session_module.Session, records: Sequence[Any], columns: list[Column]) -> Table:
    rule = _ASCII_HEAD if _ascii_only(session) else box.SIMPLE_HEAD
    table = Table(box=rule, show_edge=False, pad_edge=False, collapse_padding=True)
    for attribute, header in columns:
        folds = attribute in ("payload", "dead_letter_reason", "hostname", "queue_name", "name", "timing")
        sample = getattr(records[0], attribute)
        numeric = isinstance(sample, int) and not isinstance(sample, bool)
        table.add_column(
            Text(header), overflow="fold", no_wrap=not folds, justify="right" if numeric else "left"
        )
    for record in records:
        table.add_row(*(_text(session, getattr(record, attribute)) for attribute, _header in columns))
    return table


def show_document(session: session_module.Session, document: Any, text: str) -> None:
    """Write a result that is not a model: `document` as JSON, or `text` as a line."""
    _write(session, _json(session, document) if session.json else text.rstrip("\n") + "\n")


def note(session: session_module.Session, text: str) -> None:
    """Tell the user something on stderr (never part of the result)."""
    sys.stderr.write(session.redact(text) + "\n")
    sys.stderr.flush()


def cell(value: Any) -> str:
    """Return a value as table text: UTC datetimes, seconds, one-line JSON payloads, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, datetime.timedelta):
        return f"{value.total_seconds():g}s"  # as the options take it (seconds), not 1:00:00
    if isinstance(value, (dict, list, bool)):
        # ", " and ": " give rich spaces to wrap a long payload at.
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def width() -> int:
    """Return the table width: the terminal's, else $COLUMNS, else 80."""
    return shutil.get_terminal_size((80, 24)).columns


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _ascii_only(session: session_module.Session) -> bool:
    """Return True when the result goes to a stdout that cannot encode Unicode (files are UTF-8)."""
    if session.options.out != "stdout":
        return False
    encoding = (sys.stdout.encoding or "").lower().replace("-", "").replace("_", "")
    return encoding not in ("utf8", "utf16", "utf32")


def _text(session: session_module.Session, value: Any) -> Text:
    shown = cell(value)
    if _ascii_only(session):
        # Escaped before layout, so that the columns are measured on what is printed.
        shown = shown.encode("ascii", "backslashreplace").decode("ascii")
    return Text(shown)


def _json(session: session_module.Session, document: Any) -> str:
    # Where Unicode cannot be written, \u escapes keep the document valid JSON.
    ascii_only = _ascii_only(session)
    return json.dumps(document, indent=2, ensure_ascii=ascii_only, default=_json_default) + "\n"


def _render(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width(), color_system=None, force_terminal=False, highlight=False, emoji=False
    )
    console.print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _write(session: session_module.Session, text: str) -> None:
    destination = session.options.out
    if destination in ("stdout", "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(destination).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def progress(stream: BinaryIO) -> Iterator[Callable[[int], None]]:
    """Yield a function reporting the count sent: a progress bar when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield lambda sent: None
        return
    total = _size(stream)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("0 sent", total=total)

        def advance(sent: int) -> None:
            completed = stream.tell() if total is not None else None
            bar.update(task, description=f"{sent} sent", completed=completed)

        yield advance


def _size(stream: BinaryIO) -> int | None:
    """Return the input's size when it is a regular file (a bar can then show progress)."""
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


@contextlib.contextmanager
def live_run_stats(
    queues: Sequence[str], current: Callable[[], tuple[runtime.RunStats, str]]
) -> Iterator[None]:
    """Show a worker run's counts per queue while it runs, when stderr is a terminal.

    `current` returns the statistics so far and the run's state ("working", "stopping", ...);
    the lines are redrawn twice a second, below any log line, and removed at the end.
    """
    if not sys.stderr.isatty():
        yield
        return

    def lines() -> Text:
        stats, state = current()
        width = max(len(name) for name in queues)
        shown = [f"pgqrs worker: {state}"]
        for name in queues:
            counts = stats.by_queue.get(name, runtime.RunStats())
            shown.append(
                f"  {name:<{width}}  handled {counts.handled}  succeeded {counts.succeeded}  "
                f"retried {counts.retried}  dead-lettered {counts.dead_lettered}"
            )
        return Text("\n".join(shown), no_wrap=True, overflow="ellipsis")

    console = Console(stderr=True, highlight=False, emoji=False)
    # Printed output goes above the lines when it is bound for the same terminal; to a file, as is.
    with Live(
        get_renderable=lines,
        console=console,
        refresh_per_second=2,
        transient=True,
        redirect_stdout=sys.stdout.isatty(),
    ):
        yield

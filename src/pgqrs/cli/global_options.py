"""The global options (--dsn, --format, --log-level, ...), before the command or after it.

``pgqrs --format json message read jobs`` and ``pgqrs message read jobs --format json`` are the
same command. click parses a group's options before its command only, so every command is also
given a copy of them (listed under "Global options" in its help) that records what it is given.
What was given in either place (after the command wins) is checked and applied once, when the
command starts: `options.session_of` calls `apply`, so a usage error still costs no connection.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

from pgqrs.cli import logs
from pgqrs.cli import session as session_module

PANEL = "Global options"


class Format(str, enum.Enum):
    """Output formats."""

    table = "table"
    json = "json"


class LogDestination(str, enum.Enum):
    """Where log records go."""

    stderr = "stderr"
    file = "file"


class LogLevel(str, enum.Enum):
    """Log levels, quietest first."""

    error = "error"
    warn = "warn"
    info = "info"
    debug = "debug"
    trace = "trace"


def record(session: session_module.Session, values: dict[str, Any]) -> None:
    """Remember global options given on the command line (None: not given); later ones win."""
    session.given_options.update({name: value for name, value in values.items() if value is not None})


def accept_after(commands: Iterable[Any], global_params: Iterable[Any]) -> None:
    """Give each of `commands` a copy of every global option that only records its value."""
    global_params = [param for param in global_params if not param.is_eager]  # --version
    for command in commands:
        taken = {flag for param in command.params for flag in param.opts} | {
            param.name for param in command.params
        }
        for param in global_params:
            if param.name in taken or taken.intersection(param.opts):
                continue  # the command's own option of that name wins
            late = copy.copy(param)
            # Not given: no value, so that the one given before the command stands.
            late.default = None
            late.show_default = False
            late.expose_value = False  # not an argument of the command's function
            late.callback = _record_given
            late.rich_help_panel = PANEL
            command.params.append(late)


def _record_given(context: Any, param: Any, value: Any) -> Any:
    if value is not None:
        record(context.find_root().obj, {param.name: value})
    return value


def apply(session: session_module.Session) -> None:
    """Check the global options given and set logging up; the first call does it, once.

    Raises:
        typer.BadParameter: A value is wrong (exit code 2).
    """
    if session.options_applied:
        return
    session.options_applied = True
    given = {name: _plain(value) for name, value in session.given_options.items()}
    log_file = given.get("log_file")
    session.options = session_module.Options(
        dsn=given.get("dsn"),
        config_file=given.get("config_file"),
        schema=given.get("schema"),
        format=given.get("output_format", Format.table.value),
        out=_check_out(given.get("out", "stdout")),
        log_dest=_log_destination(given.get("log_dest"), log_file),
        log_file=log_file or "pgqrs.log",
        log_level=given.get("log_level", LogLevel.warn.value),
    )
    try:
        logs.configure(
            session.options.log_level, session.options.log_dest, session.options.log_file, session.redact
        )
    except OSError as error:
        raise typer.BadParameter(
            f"cannot open {session.options.log_file}: {error.strerror}", param_hint="'--log-file'"
        ) from None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _check_out(out: str) -> str:
    if out in ("stdout", "-"):
        return "stdout"
    path = Path(out)
    if path.is_dir():
        raise typer.BadParameter(f"{out} is a directory", param_hint="'--out'")
    if not path.parent.is_dir():
        raise typer.BadParameter(f"directory {str(path.parent)!r} does not exist", param_hint="'--out'")
    return out


def _log_destination(destination: str | None, log_file: str | None) -> str:
    if destination is None:
        return LogDestination.file.value if log_file else LogDestination.stderr.value
    if destination == LogDestination.stderr.value and log_file:
        raise typer.BadParameter("--log-file needs --log-dest file", param_hint="'--log-file'")
    return destination

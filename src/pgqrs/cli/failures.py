"""Turn any exception a command raises into an exit code and one masked line on stderr.

Exit codes: 0 success; 1 the operation failed (not found, verify failed, database error, ...);
2 usage error (bad flag or value, bad JSON, invalid configuration), detected before connecting;
130 interrupted. A traceback is logged only at --log-level debug or trace.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from pgqrs import errors
from pgqrs.cli import session as session_module

OK = 0
FAILED = 1
USAGE = 2
INTERRUPTED = 130
# What each exit code means, as `pgqrs --help` lists them.
EXIT_CODES = (
    (OK, "success"),
    (FAILED, "the operation failed (not found, verify found problems, database error)"),
    (USAGE, "usage error (bad option, value or configuration); nothing was changed"),
    (INTERRUPTED, "interrupted (Ctrl-C); held leases released, workers stopped"),
)

logger = logging.getLogger("pgqrs.cli")


class CommandFailed(Exception):
    """The operation failed for a reason the message explains (exit code 1 unless told)."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageFailure(CommandFailed):
    """The command was used wrongly (exit code 2); nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


class Interrupted(CommandFailed):
    """The user interrupted the command (Ctrl-C): exit code 130, after its clean-up ran."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"interrupted: {detail}" if detail else "interrupted", INTERRUPTED)


def reporting_interrupts(command: Callable[..., Any]) -> Callable[..., Any]:
    """Return `command` with a KeyboardInterrupt turned into `Interrupted` once it has unwound.

    typer catches KeyboardInterrupt itself and returns 130 without a word (older versions print
    "Aborted!" and exit 1); an ordinary exception passes through it to `handle`, which reports it.
    """

    @functools.wraps(command)
    def run_command(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

    return run_command


def _click_class(name: str) -> type[Exception]:
    # typer vendors click in recent versions and re-exports click's in older ones: find the
    # class through the public BadParameter so that both work.
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


_CLICK_EXCEPTION = _click_class("ClickException")


def handle(error: BaseException, session: session_module.Session) -> int:
    """Report `error` on stderr (one line, passwords masked) and return the exit code."""
    if isinstance(error, BrokenPipeError):
        # The reader went away (`pgqrs ... | head`): stay quiet, as shell tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILED
    if isinstance(error, (KeyboardInterrupt, typer.Abort)):
        _report(session, "interrupted" if isinstance(error, KeyboardInterrupt) else "aborted")
        return INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED
    if type(error).__name__ == "NoArgsIsHelpError":
        # A group run without a command: its help is the answer (exit code 2). Recent typer
        # versions have printed it already (on stdout); older ones hand it over as the message.
        help_text = str(getattr(error, "format_message", lambda: "")()).strip()
        if help_text:
            sys.stderr.write(help_text + "\n")
        return USAGE
    code, message = classify(error)
    if session.verbose and code != USAGE:
        logger.debug("traceback of the error reported below", exc_info=error)
    _report(session, message)
    return code


def classify(error: BaseException) -> tuple[int, str]:
    """Return the exit code and the message for `error`."""
    if isinstance(error, CommandFailed):
        return error.exit_code, str(error)
    if isinstance(error, _CLICK_EXCEPTION):
        return _usage(error)
    if isinstance(error, (errors.ConfigError, errors.ValidationError)):
        return USAGE, error.message
    if isinstance(error, errors.PgqrsError):
        return FAILED, error.message
    if isinstance(error, OSError):
        target = f" {error.filename}" if error.filename else ""
        return FAILED, f"cannot access{target}: {error.strerror or error}"
    hint = "; run with --log-level debug for the traceback"
    return FAILED, f"unexpected {type(error).__name__}: {error}{hint}"


def _usage(error: Exception) -> tuple[int, str]:
    code = int(getattr(error, "exit_code", USAGE))
    text = str(getattr(error, "format_message", lambda: str(error))())
    text = text.replace("Value error, ", "")  # typer's validation layer prefixes choice errors
    context = getattr(error, "ctx", None)
    path = getattr(context, "command_path", None) or "pgqrs"
    return code, f"{text} (see '{path} --help')"


def _report(session: session_module.Session, message: str) -> None:
    if "\n" in message:
        # One line: driver errors span several ("...refused\n\tIs the server running...").
        message = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    sys.stderr.write(f"pgqrs: error: {session.redact(message)}\n")
    sys.stderr.flush()

"""Logging for the command line: stdlib `logging`, to stderr or a file, passwords masked.

Levels: error, warn, info, debug (pgqrs's own debug lines, and tracebacks of errors) and trace
(level 5: everything, including psycopg's and its pool's info and debug lines, which the other
levels keep to warnings and errors).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

TRACE = 5
LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Library loggers kept to warnings unless --log-level trace.
_CHATTY_LOGGERS = ("psycopg", "psycopg.pool")


class RedactingFormatter(logging.Formatter):
    """Format records, then mask any password in the whole text (tracebacks included)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__(_FORMAT)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to `sys.stderr` as it is when each record comes: a live display that stands in for
    it (`pgqrs worker run` on a terminal) then shows the log lines above its own."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level_name: str, destination: str, path: str, redact: Callable[[str], str]) -> None:
    """Send every log record at `level_name` or above to stderr or to the file `path`.

    Raises:
        OSError: The log file cannot be opened.
    """
    logging.addLevelName(TRACE, "TRACE")
    handler: logging.Handler
    if destination == "file":
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = _StderrHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = LEVELS[level_name]
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= TRACE else max(level, logging.WARNING))
    # Python warnings become log records, so they are masked and routed like the rest.
    logging.captureWarnings(True)

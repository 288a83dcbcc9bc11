"""One command's state: the global options, the configuration (loaded lazily) and the admin.

Commands reach the database only through `Session.admin()`, after they have checked their own
arguments, so a usage error never costs a connection. Every DSN the session has seen (flag,
environment, configuration) is remembered so that `redact` can scrub its password from any
text before a user sees it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from pgqrs import _embedded, _secrets, errors, sync
from pgqrs import config as config_module

logger = logging.getLogger("pgqrs.cli")

# A URI's user info ("scheme://user:password@"): masked even in text quoting an unknown DSN.
_URI_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s/]*)(@)")
# Placeholder DSN used only to read the other settings when nothing will be connected to.
_UNUSED_DSN = "postgresql://"


@dataclasses.dataclass
class Options:
    """The global options, as given on the command line (None: not given)."""

    dsn: str | None = None
    config_file: str | None = None
    schema: str | None = None
    format: str = "table"
    out: str = "stdout"
    log_dest: str = "stderr"
    log_file: str = "pgqrs.log"
    log_level: str = "warn"


class Session:
    """The state shared by the global callback, the commands and the error handler."""

    def __init__(self) -> None:
        self.options = Options()
        # The global options as parsed, by parameter name, until `options_applied` (global_options).
        self.given_options: dict[str, Any] = {}
        self.options_applied = False
        self._config: config_module.Config | None = None
        self.embedded_fallback = False
        # Set by a command that may leave threads nothing can stop (`worker run` after stopping
        # running handlers): the process exits without waiting for them (app_running.exit_now).
        self.exit_at_once = False

    @property
    def json(self) -> bool:
        """Return True when the output format is JSON."""
        return self.options.format == "json"

    @property
    def verbose(self) -> bool:
        """Return True when tracebacks may be shown (debug or trace log level)."""
        return self.options.log_level in ("debug", "trace")

    def config(self) -> config_module.Config:
        """Return the configuration: --dsn/--schema > --config file > environment > default files.

        Raises:
            ConfigError: A setting is missing or invalid (the message names it and its source).
        """
        if self._config is None:
            try:
                self._config = config_module.Config.load_with_options(
                    dsn=self.options.dsn, config_file=self.options.config_file, schema=self.options.schema
                )
            except errors.ConfigError as error:
                if not _dsn_missing(error):
                    raise
                self._config = config_without_dsn(self.options)
                self.embedded_fallback = True
            logger.debug("configuration: %r", self._config)
        return self._config

    def schema(self) -> str:
        """Return the configured schema, even when no DSN is (for commands that do not connect)."""
        try:
            return self.config().schema
        except errors.ConfigError:
            return self.config_for_schema().schema

    def config_for_schema(self) -> config_module.Config:
        """Return the configuration with a placeholder DSN: its other settings still apply."""
        return config_module.Config.load_with_options(
            dsn=_UNUSED_DSN, config_file=self.options.config_file, schema=self.options.schema
        )

    @contextlib.contextmanager
    def admin(self, **settings: Any) -> Iterator[sync.PgqrsAdmin]:
        """Connect and yield an admin (with these settings changed); its pool is closed on exit."""
        config = self.config().replace(**settings) if settings else self.config()
        if self.embedded_fallback:
            announce_embedded()
        logger.info("connecting to %s (schema %s)", config.masked_dsn, config.schema)
        with sync.PgqrsAdmin.connect(config) as admin:
            yield admin

    def known_dsns(self) -> list[str]:
        """Return every DSN this session may have seen (their passwords must never be shown)."""
        candidates = [self.options.dsn, self.given_options.get("dsn"), os.environ.get("PGQRS_DSN")]
        if self._config is not None:
            candidates.append(self._config.dsn)
        return [dsn for dsn in candidates if dsn]

    def redact(self, text: str) -> str:
        """Return `text` with the password of every known DSN, and of any URI, masked."""
        for dsn in self.known_dsns():
            text = _secrets.mask(text, dsn)
        text = _secrets.mask(text)
        return _URI_PASSWORD.sub(lambda match: match.group(1) + _secrets.MASK + match.group(3), text)


def _dsn_missing(error: errors.ConfigError) -> bool:
    return isinstance(error, errors.MissingDsn)


def config_without_dsn(options: Options) -> config_module.Config:
    """Decide what to do when no DSN is configured anywhere (the one place to change it).

    The command line falls back to the embedded PostgreSQL server, and says so on stderr; the
    library itself never does (`Config.load()` raises `MissingDsn`).
    """
    return config_module.Config.load_with_options(
        dsn="embedded", config_file=options.config_file, schema=options.schema
    )


def announce_embedded() -> None:
    """Tell the user, on stderr, that the embedded server stands in for a configured one."""
    sys.stderr.write(
        f"pgqrs: no database configured; using the embedded PostgreSQL server in "
        f"{_embedded.DEFAULT_DATA_DIR} (point pgqrs at a server with --dsn, PGQRS_DSN or 'dsn:' "
        "in pgqrs.yaml)\n"
    )

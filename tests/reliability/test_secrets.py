"""Scenario 12 - secrets: the DSN's password appears in no output, log line, exception or repr.

Wrong, malformed and unreachable DSNs are given through the library, the environment, a YAML
file and the CLI, at every log level, with a plain (non-redacting) log handler on the root
logger catching every record of pgqrs, psycopg and the pool. Everything a user could see is
searched for the password: the exception's str and repr, the whole formatted traceback (causes
included), repr(config), the log text, stdout and stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import conninfo

import pgqrs as pgqrs_async
from pgqrs import sync as pgqrs
from tests.cli import password_server
from tests.reliability import harness

PASSWORD = "Sup3r-S3cret_pw"
AWKWARD = "p@ss:w/rd%Sup3r"  # needs percent-encoding in a URI
LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
FORMS = (PASSWORD, AWKWARD, urllib.parse.quote(AWKWARD, safe=""), urllib.parse.quote(PASSWORD, safe=""))


@pytest.fixture(scope="module")
def refusing_port() -> Iterator[int]:
    """A server that asks for a password and refuses it, as PostgreSQL does (28P01)."""
    with password_server.password_refusing_server() as port:
        yield port


def failing_dsns(dsn: str, port: int) -> dict[str, str]:
    # The real server itself: PgBouncer answers these failures slowly (server_login_retry).
    dsn = harness.derive_direct_dsn(dsn)
    awkward = urllib.parse.quote(AWKWARD, safe="")
    return {
        "wrong password": f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres",
        "wrong password, awkward": f"postgresql://postgres:{awkward}@127.0.0.1:{port}/postgres",
        "unknown role": conninfo.make_conninfo(dsn, user="no_such_role_pgqrs", password=PASSWORD),
        "unknown database": conninfo.make_conninfo(dsn, dbname="pgqrs_no_such_database", password=PASSWORD),
        "refused": f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres",
        "refused, keywords": f"host=127.0.0.1 port=1 user=postgres password={PASSWORD}",
        "unresolvable": f"postgresql://postgres:{awkward}@no-such-host.invalid/postgres",
        "malformed quote": f"host=127.0.0.1 user=postgres password='{PASSWORD}",
        "malformed port": f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/postgres",
        "raw @": f"postgresql://postgres:{PASSWORD}@x@127.0.0.1/postgres",
        "wrong scheme": f"mysql://postgres:{PASSWORD}@127.0.0.1/postgres",
        "bad option": f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres?sslmode=sometimes",
    }


def _leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


@contextlib.contextmanager
def _logging_at(level: int) -> Iterator[io.StringIO]:
    """Capture every log record at `level` and above, formatted with tracebacks, unredacted."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in ("psycopg", "psycopg.pool", "pgqrs")}
    root.addHandler(handler)
    root.setLevel(level)
    for name in saved[1]:
        logging.getLogger(name).setLevel(logging.NOTSET)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, old in saved[1].items():
            logging.getLogger(name).setLevel(old)


def _connect_sync(config: pgqrs.Config) -> None:
    with pgqrs.PgqrsAdmin.connect(config) as admin:
        admin.list_queues()


def _connect_async(config: pgqrs.Config) -> None:
    async def run() -> None:
        async with await pgqrs_async.PgqrsAdmin.connect(config) as admin:
            await admin.list_queues()

    asyncio.run(run())


def _through_source(source: str, dsn: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> pgqrs.Config:
    """Build the config the way a user of `source` would (this may already raise)."""
    short = {"connection_timeout_seconds": 3}
    if source == "library":
        return pgqrs.Config.from_dsn(dsn).replace(**short)
    if source == "environment":
        monkeypatch.setenv("PGQRS_DSN", dsn)
        monkeypatch.setenv("PGQRS_CONNECTION_TIMEOUT", "3")
        return pgqrs.Config.load()
    path = directory / "pgqrs.yaml"
    escaped = dsn.replace("'", "''")
    path.write_text(f"dsn: '{escaped}'\nconnection_timeout_seconds: 3\n", encoding="utf-8")
    return pgqrs.Config.from_file(path)


def _attempt(build: Callable[[], pgqrs.Config], connect: Callable[[pgqrs.Config], None]) -> list[str]:
    """Run one failing attempt; return every text a user could see from it."""
    texts = []
    try:
        config = build()
        texts += [repr(config), str(config), config.masked_dsn]
        connect(config)
    except pgqrs.PgqrsError as error:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        if error.__cause__ is not None:
            texts += [str(error.__cause__), repr(error.__cause__), repr(error.__cause__.args)]
    else:
        raise AssertionError("the attempt was expected to fail")
    return texts


@pytest.mark.parametrize("source", ["library", "environment", "yaml"])
def test_password_never_shown_library_env_yaml(
    dsn: str,
    refusing_port: int,
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    figures: dict[str, Any],
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./pgqrs.yaml
    monkeypatch.delenv("PGQRS_CONFIG_FILE", raising=False)
    attempts = 0
    leaks: list[tuple[str, str, str]] = []
    for case, failing in failing_dsns(dsn, refusing_port).items():
        assert _leaks(failing), "the search would not find this DSN's password"

        def build(failing: str = failing) -> pgqrs.Config:
            return _through_source(source, failing, tmp_path, monkeypatch)

        for level_name, level in LEVELS.items():
            for connect in (_connect_sync, _connect_async):
                with _logging_at(level) as logged:
                    texts = _attempt(build, connect)
                captured = capfd.readouterr()
                for text in [*texts, logged.getvalue(), captured.out, captured.err]:
                    leaks += [(case, level_name, form) for form in _leaks(text)]
                attempts += 1
    figures.update(source=source, failing_attempts=attempts, leaks=len(leaks))
    assert not leaks, leaks[:10]


def _cli() -> list[str]:
    try:
        import pgqrs.cli  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the pgqrs CLI is not available: {exc}")
    return [sys.executable, "-m", "pgqrs"]


@pytest.mark.parametrize("source", ["flag", "environment", "config"])
def test_password_never_shown_cli(
    dsn: str, refusing_port: int, source: str, tmp_path: Path, scale: harness.Scale, figures: dict[str, Any]
) -> None:
    command = _cli()
    cases = failing_dsns(dsn, refusing_port)
    # CI: the most verbose level and three failure kinds (tests/cli runs a wider matrix); full: all.
    chosen = list(cases) if scale.name == "full" else ["wrong password", "refused", "malformed quote"]
    levels = list(LEVELS) if scale.name == "full" else ["trace"]
    leaks: list[tuple[str, str, str]] = []
    runs = 0
    for case in chosen:
        for level in levels:
            environment = {key: value for key, value in os.environ.items() if not key.startswith("PGQRS_")}
            arguments = [*command, "--log-level", level, "--format", "json"]
            if source == "flag":
                arguments += ["--dsn", cases[case]]
            elif source == "environment":
                environment["PGQRS_DSN"] = cases[case]
            else:
                path = tmp_path / f"{runs}.yaml"
                path.write_text("dsn: '" + cases[case].replace("'", "''") + "'\n", encoding="utf-8")
                arguments += ["--config", str(path)]
            environment["PGQRS_CONNECTION_TIMEOUT"] = "3"
            result = subprocess.run(
                [*arguments, "queue", "list"],
                capture_output=True,
                text=True,
                env=environment,
                cwd=tmp_path,
                timeout=60,
            )
            assert result.returncode != 0, (case, result.stdout)
            leaks += [(case, level, form) for form in _leaks(result.stdout + result.stderr)]
            runs += 1
    figures.update(source=f"cli {source}", failing_runs=runs, leaks=len(leaks))
    assert not leaks, leaks[:10]

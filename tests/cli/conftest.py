"""Fixtures for the command line tests: runners bound to the test schema, or to no server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgqrs import sync
from tests import embedded_server
from tests.cli import runner

# Nothing listens on port 1: a command that tried to connect would fail with exit code 1,
# so exit code 2 with this DSN proves the error was found before connecting.
UNREACHABLE_DSN = "postgresql://postgres@127.0.0.1:1/postgres"


@pytest.fixture
def cli(dsn: str, schema: str, tmp_path: Path) -> runner.Cli:
    """Return a runner whose environment points pgqrs at the test's schema (cwd: tmp_path)."""
    environment = runner.clean_environment()
    environment.update(PGQRS_DSN=dsn, PGQRS_SCHEMA=schema, PGQRS_CONNECTION_TIMEOUT="10")
    return runner.Cli(environment, tmp_path)


@pytest.fixture
def offline(tmp_path: Path) -> runner.Cli:
    """Return a runner configured with a server that does not exist."""
    environment = runner.clean_environment()
    environment.update(PGQRS_DSN=UNREACHABLE_DSN)
    return runner.Cli(environment, tmp_path)


@pytest.fixture
def unconfigured(tmp_path: Path) -> runner.Cli:
    """Return a runner without any pgqrs setting (an empty working directory)."""
    return runner.Cli(runner.clean_environment(), tmp_path)


@pytest.fixture
def admin(config: sync.Config) -> Iterator[sync.PgqrsAdmin]:
    """Return a library admin on the test's schema, with pgqrs installed (fast set-up)."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        yield admin


@pytest.fixture
def data_home() -> Iterator[Path]:
    """Return an XDG_DATA_HOME of the test's own; stop the embedded server started there."""
    pytest.importorskip("pgserver")
    # Under /tmp directly: as root the server runs as pgserver's user (see tests/embedded_server).
    base = Path(tempfile.mkdtemp(prefix="pgqrs-cli-embedded-"))
    yield base
    data = base / "pgqrs" / "embedded"
    if data.exists():
        embedded_server.stop(base, data)
    shutil.rmtree(base, ignore_errors=True)

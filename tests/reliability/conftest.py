"""Fixtures of the fault suite: sizes, worker processes, the direct server, figures for the report.

Figures: each test fills `figures` (a dict); they are printed at the end of the run and, when
PGQRS_RELIABILITY_REPORT names a file, written there as JSON lines (docs/reliability.md is made
from them).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness, proxy

_COLLECTED: list[dict[str, Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "disruptive: restarts or stops the shared PostgreSQL server (deselect with -m)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give full-size runs room: the per-test timeout (300 s) is sized for the CI counts."""
    if harness.current_scale().name == "full":
        for item in items:
            if item.path.is_relative_to(Path(__file__).parent):
                item.add_marker(pytest.mark.timeout(3600))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _COLLECTED:
        return
    terminalreporter.section(f"reliability figures (scale {harness.current_scale().name})")
    for record in _COLLECTED:
        terminalreporter.write_line(json.dumps(record, default=str))


@pytest.fixture(scope="session")
def scale() -> harness.Scale:
    """Return the sizes for this run (PGQRS_RELIABILITY_SCALE=ci|full, default ci)."""
    return harness.current_scale()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Return a dict the test fills with its figures; they go to the report even on failure."""
    record: dict[str, Any] = {}
    started = time.monotonic()
    yield record
    if not record:
        return
    entry = {
        "test": request.node.nodeid.split("::", 1)[-1],
        "scale": harness.current_scale().name,
        "seconds": round(time.monotonic() - started, 1),
        **record,
    }
    _COLLECTED.append(entry)
    report = os.environ.get("PGQRS_RELIABILITY_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as file:
            file.write(json.dumps(entry, default=str) + "\n")




@pytest.fixture
def reliability_config(dsn: str, schema: str) -> pgqrs.Config:
    """Return a config for the test's schema with a small pool and modest timeouts."""
    return pgqrs.Config.from_dsn_with_schema(dsn, schema).replace(
        connection_timeout_seconds=10, max_connections=4
    )


@pytest.fixture
def admin(reliability_config: pgqrs.Config) -> Iterator[pgqrs.PgqrsAdmin]:
    """Return a connected (sync) admin with pgqrs installed in the test's schema."""
    admin = pgqrs.PgqrsAdmin.connect(reliability_config)
    admin.install()
    yield admin
    admin.close()


@pytest.fixture
def workers(tmp_path: Path, dsn: str, schema: str) -> Iterator[harness.Workers]:
    """Return a worker-process launcher; every process it started is killed afterwards."""
    launcher = harness.Workers(tmp_path, dsn, schema)
    try:
        yield launcher
    finally:
        launcher.kill_all()


@pytest.fixture
def link(dsn: str) -> Iterator[proxy.TcpProxy]:
    """Return a running proxy in front of the test server (or its pooler)."""
    with proxy.TcpProxy(*harness.host_and_port(dsn)) as running:
        yield running

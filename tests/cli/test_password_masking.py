"""No output, log line or error message ever contains the DSN's password, whatever goes wrong.

Each DSN that fails in its own way (wrong password, unreachable host, malformed, unknown
database) is given through each source (--dsn before or after the command, PGQRS_DSN, --config
file, ./pgqrs.yaml) at the log levels in turn, half of the runs logging to a file; all captured
stdout, stderr and log file text is searched for the password.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import conninfo

from tests.cli import password_server, runner

PASSWORD = "Sup3r-S3cret_pw"
ENCODED = "p@ss:w/rd%Sup3r"  # needs percent-encoding in a URI
LEVELS = ("error", "warn", "info", "debug", "trace")
SOURCES = ("flag", "flag after the command", "environment", "config", "default file")


@pytest.fixture(scope="module")
def refusing_port() -> Iterator[int]:
    with password_server.password_refusing_server() as port:
        yield port


def failing_dsns(dsn: str, port: int) -> dict[str, tuple[str, str]]:
    """Return DSNs that fail, each with a text its error message must contain."""
    quoted = urllib.parse.quote(ENCODED, safe="")
    return {
        "wrong password": (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres",
            "password authentication failed",
        ),
        "unreachable": (f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres", "Connection refused"),
        "unreachable, encoded": (
            f"postgresql://postgres:{quoted}@127.0.0.1:1/postgres",
            "Connection refused",
        ),
        "unknown database": (
            conninfo.make_conninfo(dsn, dbname="pgqrs_no_such_database", password=PASSWORD),
            "pgqrs_no_such_database",
        ),
        "malformed": (f"host=127.0.0.1 user=postgres password='{PASSWORD}", "malformed connection string"),
        "bad port": (f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/postgres", "port"),
        "raw @": (f"postgresql://postgres:{PASSWORD}@x@127.0.0.1/postgres", "percent-encode it as %40"),
    }


def run_with(
    cli: runner.Cli, directory: Path, dsn: str, source: str, level: str, to_file: bool
) -> Callable[[], runner.Result]:
    directory.mkdir()
    arguments = ["--log-level", level]
    if to_file:
        arguments += ["--log-dest", "file", "--log-file", str(directory / "pgqrs.log")]
    after: list[str] = []
    environment: dict[str, str] = {}
    setting = f"dsn: {json.dumps(dsn)}\n"  # a JSON string is a YAML scalar
    if source == "flag":
        arguments += ["--dsn", dsn]
    elif source == "flag after the command":
        after += ["--dsn", dsn]
    elif source == "environment":
        environment["PGQRS_DSN"] = dsn
    elif source == "config":
        (directory / "settings.yaml").write_text(setting)
        arguments += ["--config", str(directory / "settings.yaml")]
    else:
        (directory / "pgqrs.yaml").write_text(setting)
    return functools.partial(
        cli.run, *arguments, "queue", "list", *after, environment=environment, cwd=directory
    )


def captured(result: runner.Result, directory: Path) -> str:
    log = directory / "pgqrs.log"
    return result.stdout + result.stderr + (log.read_text() if log.exists() else "")


def test_no_password_in_any_output(
    unconfigured: runner.Cli, dsn: str, refusing_port: int, tmp_path: Path
) -> None:
    cases = []
    for index, (kind, (failing, expected)) in enumerate(failing_dsns(dsn, refusing_port).items()):
        # Three runs per kind, rotating sources and levels so that every kind meets three sources
        # and every source and level meets several kinds; the last run is always at trace level.
        for turn, level in enumerate((LEVELS[index % 4], LEVELS[(index + 2) % 4], "trace")):
            source = SOURCES[(index + turn) % len(SOURCES)]
            cases.append((kind, failing, expected, source, level, (index + turn) % 2 == 1))
    directories = [tmp_path / f"case{index}" for index in range(len(cases))]
    results = runner.parallel(
        *(
            run_with(unconfigured, directory, failing, source, level, to_file)
            for directory, (_kind, failing, _expected, source, level, to_file) in zip(
                directories, cases, strict=True
            )
        )
    )
    secrets = (PASSWORD, ENCODED, urllib.parse.quote(ENCODED, safe=""))
    for directory, case, result in zip(directories, cases, results, strict=True):
        kind, _failing, expected, source, level, _to_file = case
        text = captured(result, directory)
        assert not [secret for secret in secrets if secret in text], (case, text)
        assert result.code in (1, 2), (case, text)
        assert expected in text, (case, text)
        if level in ("error", "warn"):
            assert result.error  # one line; no log lines at these levels
    assert {case[4] for case in cases} == set(LEVELS)
    assert {case[3] for case in cases} == set(SOURCES)


def test_no_password_from_a_broken_config_file(unconfigured: runner.Cli, tmp_path: Path) -> None:
    text = f'schema: jobs\ndsn: "postgresql://postgres:{PASSWORD}@127.0.0.1/postgres\n'
    (tmp_path / "pgqrs.yaml").write_text(text)
    (tmp_path / "settings.yaml").write_text(text)
    default_file, named_file = unconfigured.many(
        ["--log-level", "trace", "queue", "list"], ["--config", "settings.yaml", "queue", "list"]
    )
    for result in (default_file, named_file):
        assert "is not valid YAML at line" in result.expect(2).stderr
        assert PASSWORD not in result.stdout + result.stderr

"""`pgqrs install`, `verify`, `uninstall` (with and without a terminal) and `install --print-sql`."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from pgqrs import _schema_spec, sync
from tests import support
from tests.cli import runner

TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'pgqrs%%'"


def test_install_verify_uninstall(cli: runner.Cli, dsn: str, schema: str) -> None:
    installed = cli.run("install").expect(0)
    assert installed.stdout == f"pgqrs is installed in schema {schema!r}\n"
    again, verified, verified_json = cli.many(
        ["--format", "json", "install"], ["verify"], ["--format", "json", "verify"]
    )
    assert again.expect(0).json() == {"schema": schema, "installed": True}
    assert verified.expect(0).stdout == f"pgqrs schema {schema!r} is complete\n"
    assert verified_json.expect(0).json() == {"schema": schema, "ok": True, "problems": []}

    refused = cli.run("uninstall").expect(2)  # stdin is a pipe: no one to ask
    assert "pass --yes" in refused.error
    assert support.count(dsn, TABLES, schema) == len(_schema_spec.COLUMNS)

    removed = cli.run("--format", "json", "uninstall", "--yes").expect(0)
    assert removed.json() == {"schema": schema, "uninstalled": True}
    assert support.count(dsn, TABLES, schema) == 0

    failed, failed_json, queues = cli.many(["verify"], ["--format", "json", "verify"], ["queue", "list"])
    assert failed.expect(1).stdout.startswith("- table ")
    assert f"- table {schema}.pgqrs_messages is missing" in failed.stdout.splitlines()
    assert f"schema {schema!r} failed verification" in failed.error
    document = failed_json.expect(1).json()
    assert document["ok"] is False
    assert f"table {schema}.pgqrs_queues is missing" in document["problems"]
    assert len(document["problems"]) == len(failed.stdout.splitlines())
    assert "is not installed" in queues.expect(1).error
    assert f"pgqrs --schema {schema} install" in queues.error


def test_install_into_a_missing_schema_changes_nothing(cli: runner.Cli, dsn: str) -> None:
    result = cli.run("--schema", "pgqrs_no_such_schema", "install").expect(1)
    assert "schema 'pgqrs_no_such_schema' does not exist; create it first" in result.error
    assert 'CREATE SCHEMA IF NOT EXISTS "pgqrs_no_such_schema"' in result.error
    missing = "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgqrs_no_such_schema'"
    assert support.count(dsn, missing) == 0


def test_print_sql_connects_to_nothing(offline: runner.Cli, unconfigured: runner.Cli, tmp_path: Path) -> None:
    script = tmp_path / "install.sql"
    text, document = offline.many(
        ["--schema", "jobs_schema", "install", "--print-sql"],
        ["--out", str(script), "install", "--print-sql"],
    )
    assert 'CREATE TABLE "jobs_schema".pgqrs_queues' in text.expect(0).stdout
    assert document.expect(0).stdout == ""
    assert 'CREATE TABLE "public".pgqrs_messages' in script.read_text()
    # No DSN anywhere: the DDL still only needs the schema (here from the environment).
    without_dsn = unconfigured.with_environment(PGQRS_SCHEMA="env_schema")
    printed = without_dsn.run("--format", "json", "install", "--print-sql").expect(0).json()
    assert printed["schema"] == "env_schema"
    assert '"env_schema".pgqrs_archive' in printed["sql"]


def run_on_terminal(cli: runner.Cli, answer: str, *arguments: str) -> subprocess.CompletedProcess[bytes]:
    """Run pgqrs with stdin on a pseudo-terminal, typing `answer` to its question."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [runner.executable(), *arguments],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli.environment,
            cwd=cli.cwd,
        )
        os.write(controller, answer.encode() + b"\n")
        stdout, stderr = process.communicate(timeout=runner.TIMEOUT_SECONDS)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_uninstall_asks_on_a_terminal(cli: runner.Cli, admin: sync.PgqrsAdmin, dsn: str, schema: str) -> None:
    declined = run_on_terminal(cli, "n", "uninstall")
    assert declined.returncode == 1
    assert b"Drop the pgqrs tables in schema" in declined.stderr
    assert b"pgqrs: error: uninstall cancelled; nothing was changed" in declined.stderr
    assert support.count(dsn, TABLES, schema) == len(_schema_spec.COLUMNS)

    confirmed = run_on_terminal(cli, "y", "uninstall")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout == f"pgqrs is uninstalled from schema {schema!r}\n".encode()
    assert support.count(dsn, TABLES, schema) == 0

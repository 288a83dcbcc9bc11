"""`pgqrs migrate [--print-sql]` and `pgqrs install --print-sql` on a released schema."""

from __future__ import annotations

from pathlib import Path

from pgqrs import _migrations, _queries
from tests import support
from tests.cli import runner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def install_version_1(dsn: str, schema: str) -> None:
    with support.connect(dsn) as connection:
        connection.execute(_queries.compose((FIXTURES / "schema_v1.sql").read_text(), schema))


def test_migrate_prints_then_applies_what_is_pending(cli: runner.Cli, dsn: str, schema: str) -> None:
    install_version_1(dsn, schema)
    latest = _migrations.latest_version()
    printed = cli.run("migrate", "--print-sql").expect(0)
    assert "-- pgqrs migration 0002_archive_worker_history" in printed.stdout
    assert "0001_initial" not in printed.stdout
    assert printed.stdout.count("COMMIT;") == latest - 1
    failed = cli.run("verify").expect(1)
    assert f"schema version is 1, this pgqrs expects {latest}" in failed.stdout
    applied = cli.run("--format", "json", "migrate").expect(0).json()
    assert applied == {"schema": schema, "applied": list(range(2, latest + 1)), "version": latest}
    again, verified, nothing = cli.many(["migrate"], ["verify"], ["migrate", "--print-sql"])
    assert again.expect(0).stdout == f"schema {schema!r} is current (version {latest})\n"
    verified.expect(0)
    assert nothing.expect(0).stdout == "-- nothing to apply\n"


def test_install_print_sql_is_the_whole_schema_without_a_server(
    offline: runner.Cli, dsn: str, schema: str
) -> None:
    printed = offline.run("--schema", schema, "install", "--print-sql").expect(0)
    assert printed.stdout.count("BEGIN;") == _migrations.latest_version()
    with support.connect(dsn) as connection:
        connection.execute(printed.stdout)
    assert (
        support.count(dsn, f'SELECT count(*) FROM "{schema}".pgqrs_schema_version')
        == _migrations.latest_version()
    )

"""`pgqrs roles`: print the least-privilege SQL without connecting, or apply it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import support
from tests.cli import runner


@pytest.fixture
def prefix(schema: str, dsn: str) -> Iterator[str]:
    """Return a role prefix of the test's own (roles are cluster-wide); drop the roles after."""
    yield schema
    with support.connect(dsn) as connection:
        for kind in ("producer", "consumer", "observer"):
            role = f"{schema}_{kind}"
            exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if exists:
                connection.execute(f'DROP OWNED BY "{role}"')
                connection.execute(f'DROP ROLE "{role}"')


def test_roles_prints_sql_without_connecting(offline: runner.Cli) -> None:
    printed = offline.run("--schema", "jobs", "roles", "--print-sql", "--prefix", "app").expect(0)
    assert 'GRANT SELECT ON "jobs".pgqrs_queues TO "app_producer";' in printed.stdout
    document = offline.run("--format", "json", "roles", "--print-sql").expect(0).json()
    assert document["roles"] == {
        "producer": "pgqrs_producer",
        "consumer": "pgqrs_consumer",
        "observer": "pgqrs_observer",
    }
    offline.run("roles", "--prefix", 'x"; DROP').expect(2)


def test_roles_creates_the_roles(cli: runner.Cli, dsn: str, prefix: str) -> None:
    cli.run("install").expect(0)
    applied = cli.run("--format", "json", "roles", "--prefix", prefix).expect(0).json()
    assert applied["applied"] is True
    cli.run("roles", "--prefix", prefix).expect(0)  # idempotent
    granted = support.count(
        dsn,
        "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
        [f"{prefix}_{kind}" for kind in ("producer", "consumer", "observer")],
    )
    assert granted == 3

"""Scenario 7 - concurrent install: 4 processes install into one schema at the same instant.

Each migration is applied by exactly one transaction (every pgqrs relation was created by a
transaction that recorded a migration's version, and each version is recorded once), the
others succeed as no-ops, and installing again changes nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pgqrs import _migrations
from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import harness

INSTALLERS = 4


def _race(tmp_path: Path, dsn: str, schema: str, label: str) -> list[dict[str, Any]]:
    """Start the installers, release them together, and return their notes."""
    workers = harness.Workers(tmp_path / label, dsn, schema)
    workers.directory.mkdir()
    go_file = workers.directory / "go"
    try:
        for index in range(INSTALLERS):
            workers.start("install", f"installer-{index}", go_file=str(go_file))
        workers.wait_ready()
        go_file.touch()
        for name in workers.processes:
            assert workers.wait(name, 60) == 0, workers.log(name)
    finally:
        workers.kill_all()
    return [note for note in workers.checker().notes if "install" in note]


def _creators(dsn: str, schema: str) -> tuple[int, int, int]:
    """Return (relations, distinct creating transactions, schema_version rows), having checked
    that every relation was created by a transaction that recorded a migration."""
    with support.connect(dsn) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT c.xmin::text) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname LIKE 'pgqrs%%'",
            (schema,),
        ).fetchone()
        versions = connection.execute(f'SELECT count(*) FROM "{schema}".pgqrs_schema_version').fetchone()
        strays = connection.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname LIKE 'pgqrs%%' AND c.xmin::text NOT IN "
            f'(SELECT xmin::text FROM "{schema}".pgqrs_schema_version)',
            (schema,),
        ).fetchall()
    assert row is not None and versions is not None
    assert strays == [], f"created outside the migration that recorded its version: {strays}"
    return int(row[0]), int(row[1]), int(versions[0])


def test_concurrent_install(
    dsn: str, schema: str, tmp_path: Path, scale: harness.Scale, figures: dict[str, Any]
) -> None:
    schemas = [schema] + [f"{schema}_{uuid.uuid4().hex[:6]}" for _ in range(scale.install_rounds - 1)]
    results = []
    try:
        for index, name in enumerate(schemas):
            if index:
                with support.connect(dsn) as connection:
                    connection.execute(f'CREATE SCHEMA "{name}"')
            notes = _race(tmp_path, dsn, name, f"round-{index}")
            assert [note["install"] for note in notes] == ["ok"] * INSTALLERS, notes
            relations, creators, versions = _creators(dsn, name)
            # Each migration applied once, in a transaction of its own, whoever raced for it.
            latest = _migrations.latest_version()
            assert relations > 0 and creators <= latest and versions == latest, (
                relations,
                creators,
                versions,
            )
            again = _race(tmp_path, dsn, name, f"again-{index}")
            assert [note["install"] for note in again] == ["ok"] * INSTALLERS, again
            assert _creators(dsn, name) == (relations, creators, versions), (
                "a repeated install changed the schema"
            )
            with pgqrs.PgqrsAdmin.connect(pgqrs.Config.from_dsn_with_schema(dsn, name)) as admin:
                admin.verify()
            results.append(max(note["took"] for note in notes))
    finally:
        with support.connect(dsn) as connection:
            for name in schemas[1:]:
                connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    figures.update(
        rounds=len(schemas),
        installers_per_round=INSTALLERS,
        installs=2 * INSTALLERS * len(schemas),
        failed_installs=0,
        creating_transactions_per_schema=1,
        slowest_install_seconds=round(max(results), 3),
    )

"""The packaged migrations: numbered without gaps, described by _schema_spec, printable."""

from __future__ import annotations

from pgqrs import _migrations, _schema_spec


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [migration.version for migration in _migrations.migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert _migrations.latest_version() == _schema_spec.SCHEMA_VERSION


def test_pending_and_script() -> None:
    latest = _migrations.latest_version()
    assert [m.version for m in _migrations.pending(None)] == list(range(1, latest + 1))
    assert [m.version for m in _migrations.pending(1)] == list(range(2, latest + 1))
    assert _migrations.pending(latest) == [] and _migrations.script("public", latest) == ""
    script = _migrations.script('my "odd" schema', 1)
    assert script.count("BEGIN;") == script.count("COMMIT;") == latest - 1
    # Identifiers quoted by psycopg.sql, the schema as a literal in the lock: nothing left raw.
    assert '"my ""odd"" schema".pgqrs_messages' in script
    assert "hashtextextended('pgqrs install ' || 'my \"odd\" schema', 0)" in script
    assert "{schema}" not in script and "%(" not in script
    assert f'INSERT INTO "my ""odd"" schema".pgqrs_schema_version (version) VALUES ({latest});' in script

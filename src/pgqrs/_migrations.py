"""Numbered schema migrations: ``sql/migrations/NNNN_name.sql``, applied once each, in order.

A migration is a script with the ``{schema}`` placeholder (filled with `psycopg.sql.Identifier`).
`PgqrsAdmin.migrate` applies each pending one in a transaction of its own, under a transaction-
scoped advisory lock, and records its number in ``pgqrs_schema_version``; `script` gives the same
SQL as text for people who apply migrations with their own tool. Pure code: no I/O but reading
the packaged files.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import re

from pgqrs import _queries

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True)
class Migration:
    """One numbered migration script, as packaged (``{schema}`` not yet filled in)."""

    version: int
    name: str
    text: str


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """Return every packaged migration in version order (checked to be numbered 1, 2, 3, ...)."""
    folder = importlib.resources.files("pgqrs").joinpath("sql").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match["version"]), match["name"], text))
    found.sort(key=lambda migration: migration.version)
    numbers = [migration.version for migration in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"pgqrs migrations must be numbered 1..N without gaps, found {numbers}")
    return tuple(found)


def latest_version() -> int:
    """Return the schema version this pgqrs installs."""
    return migrations()[-1].version


def pending(current: int | None) -> list[Migration]:
    """Return the migrations a schema at version `current` (None: not installed) still needs."""
    return [migration for migration in migrations() if migration.version > (current or 0)]


def compose(migration: Migration, schema: str) -> bytes:
    """Return the migration's SQL for `schema`."""
    return _queries.compose(migration.text, schema)


def script(schema: str, current: int | None) -> str:
    """Return, as one SQL text, exactly what `migrate` runs on a schema at version `current`.

    Each migration is a transaction of its own: the lock, the migration, its version record.
    """
    queries = _queries.for_schema(schema)
    literal_schema = "'" + schema.replace("'", "''") + "'"
    lock = _statement(queries["admin_install_lock"].text).replace("%(schema)s", literal_schema)
    parts = []
    for migration in pending(current):
        body = compose(migration, schema).decode()
        recorded = _statement(queries["admin_record_version"].text)
        recorded = recorded.replace("%(version)s", str(migration.version))
        parts.append(
            f"-- pgqrs migration {migration.version:04d}_{migration.name}\n"
            f"BEGIN;\n{lock}\n{body.strip()}\n{recorded}\nCOMMIT;\n"
        )
    return "\n".join(parts)


def _statement(text: bytes) -> str:
    return text.decode().strip().rstrip(";") + ";"

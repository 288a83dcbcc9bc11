"""Named SQL queries, loaded once from sql/*.sql and composed per schema.

A file holds queries introduced by ``-- name: <query_name> :<one|many|none>``; the text until the
next marker is the statement. ``{schema}`` is filled with `psycopg.sql.Identifier`, never string
formatting, and the composed statements are cached per schema.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import re

from psycopg import sql

_MARKER = re.compile(r"^-- name: (?P<name>\w+) :(?P<cardinality>one|many|none)\s*$", re.MULTILINE)
FILES = (
    "admin.sql",
    "archive.sql",
    "inspect.sql",
    "messages.sql",
    "queues.sql",
    "retention.sql",
    "schedules.sql",
    "workers.sql",
)


@dataclasses.dataclass(frozen=True)
class Query:
    """One named statement, composed for a schema."""

    name: str
    cardinality: str
    text: bytes


def parse(source: str) -> dict[str, tuple[str, str]]:
    """Return ``{name: (cardinality, sql_text)}`` for every named query in `source`."""
    markers = list(_MARKER.finditer(source))
    queries: dict[str, tuple[str, str]] = {}
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(source)
        body = source[marker.end() : end].strip()
        if marker["name"] in queries:
            raise ValueError(f"query {marker['name']!r} is defined twice")
        queries[marker["name"]] = (marker["cardinality"], body)
    return queries


def read_sql_file(name: str) -> str:
    """Return the text of a packaged SQL file."""
    return importlib.resources.files("pgqrs").joinpath("sql").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _raw() -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for file in FILES:
        merged.update(parse(read_sql_file(file)))
    return merged


def compose(text: str, schema: str) -> bytes:
    """Return `text` with ``{schema}`` replaced by the quoted identifier."""
    return sql.SQL(text).format(schema=sql.Identifier(schema)).as_bytes(None)


@functools.lru_cache(maxsize=64)
def for_schema(schema: str) -> dict[str, Query]:
    """Return every query composed for `schema` (cached)."""
    return {
        name: Query(name, cardinality, compose(text, schema)) for name, (cardinality, text) in _raw().items()
    }

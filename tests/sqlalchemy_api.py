"""SQLAlchemy for the API tests: the async names and their blocking counterparts in one module.

tools/unasync.py turns ``sqlalchemy_api.create_async_engine`` / ``AsyncSession`` in the async
tests into ``create_engine`` / ``Session`` in the generated sync ones.
"""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import URL, create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

__all__ = ["AsyncSession", "Session", "create_async_engine", "create_engine", "text", "url"]


def url(dsn: str) -> URL:
    """The SQLAlchemy URL of a libpq DSN, URL or key=value (the embedded server's socket form).

    Every parameter goes in the query, which the psycopg dialect hands to ``connect`` as is.
    """
    parameters = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    return URL.create("postgresql+psycopg", query=parameters)

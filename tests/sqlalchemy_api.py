"""SQLAlchemy for the API tests: the async names and their blocking counterparts in one module.

tools/unasync.py turns ``sqlalchemy_api.create_async_engine`` / ``AsyncSession`` in the async
tests into ``create_engine`` / ``Session`` in the generated sync ones.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

__all__ = ["AsyncSession", "Session", "create_async_engine", "create_engine", "text"]

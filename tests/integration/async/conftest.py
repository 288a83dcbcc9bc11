"""Fixtures for the API tests (async source; the sync twin is generated from this file)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import pgqrs


@pytest.fixture
async def admin(config: pgqrs.Config) -> AsyncIterator[pgqrs.PgqrsAdmin]:
    """Return a connected admin with pgqrs installed in the test's schema."""
    admin = await pgqrs.PgqrsAdmin.connect(config)
    await admin.install()
    yield admin
    await admin.close()


@pytest.fixture
async def queue(admin: pgqrs.PgqrsAdmin) -> pgqrs.QueueInfo:
    """Return a fresh queue named 'jobs'."""
    return await admin.create_queue("jobs")


@pytest.fixture
def producer(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> pgqrs.Producer:
    """Return a producer on the 'jobs' queue."""
    return pgqrs.Producer(admin.pool, queue, admin.config)


@pytest.fixture
async def consumer(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> AsyncIterator[pgqrs.Consumer]:
    """Return a consumer on the 'jobs' queue."""
    consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
    yield consumer
    await consumer.close()

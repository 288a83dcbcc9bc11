"""Connections: unreachable servers fail in time, lost connections recover, passwords stay hidden."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

import pgqrs
from tests import support


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Return the port of a TCP listener that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


async def test_silent_server_fails_within_the_connection_timeout(silent_server: int) -> None:
    config = pgqrs.Config.from_dsn(f"postgresql://app:hunter2secret@127.0.0.1:{silent_server}/db").replace(
        connection_timeout_seconds=2
    )
    started = time.monotonic()
    with pytest.raises(pgqrs.DatabaseError) as caught:
        await pgqrs.PgqrsAdmin.connect(config)
    assert time.monotonic() - started < 10
    assert "hunter2secret" not in str(caught.value)
    assert "hunter2secret" not in str(caught.value.__cause__)
    assert "hunter2secret" not in repr(caught.value.__cause__)


async def test_refused_connection_is_a_database_error() -> None:
    config = pgqrs.Config.from_dsn("postgresql://app:hunter2secret@127.0.0.1:1/db")
    with pytest.raises(pgqrs.DatabaseError) as caught:
        await pgqrs.PgqrsAdmin.connect(config)
    assert "hunter2secret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


async def test_unknown_role_reports_the_server_reason(dsn: str) -> None:
    with support.connect(dsn) as raw:
        info = raw.info
        host, port, dbname = info.host, info.port, info.dbname
    if port == 6432:
        pytest.skip("PgBouncer answers for unknown roles itself")
    config = pgqrs.Config.from_dsn(f"postgresql://no_such_role:hunter2secret@{host}:{port}/{dbname}")
    with pytest.raises(pgqrs.DatabaseError) as caught:
        await pgqrs.PgqrsAdmin.connect(config)
    assert "no_such_role" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


async def test_next_call_works_after_the_server_drops_every_connection(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, dsn: str
) -> None:
    producer = pgqrs.Producer(admin.pool, queue)
    await producer.enqueue(1)
    with support.connect(dsn) as raw:
        raw.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'pgqrs' AND pid <> pg_backend_pid()"
        )
    failures = 0
    for _attempt in range(2):
        try:
            await producer.enqueue(2)
        except pgqrs.DatabaseError as error:
            assert error.connection_lost
            failures += 1
    assert failures <= 1
    assert await admin.messages.count() >= 2

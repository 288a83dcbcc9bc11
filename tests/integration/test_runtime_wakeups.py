"""Wake-ups: a NOTIFY on the pgqrs channel starts an idle worker long before its next poll.

Not generated: the app runs in a task (async) or a thread (sync) while the test sends the
notification, as an enqueue does (`pgqrs._notify`), from a connection of its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from psycopg import conninfo

import pgqrs
from pgqrs import _notify, sync
from tests import support
from tests.reliability import harness

SLOW_POLL = 60.0  # so only a wake-up can start the handler within the test's patience
LISTENING = "SELECT pid FROM pg_stat_activity WHERE query = %s AND application_name = %s"


@pytest.fixture
def named(config: pgqrs.Config, direct_dsn: str) -> pgqrs.Config:
    """Return the test's config with an application name of its own (to find its listener).

    Behind a transaction pooler (CI runs these tests through PgBouncer too) the runtime listens on
    a direct connection, `listen_dsn`, as the docs recommend.
    """
    name = f"wakeups_{uuid.uuid4().hex[:8]}"
    named = config.replace(dsn=conninfo.make_conninfo(config.dsn, application_name=name))
    if named.behind_transaction_pooler:
        named = named.replace(listen_dsn=conninfo.make_conninfo(direct_dsn, application_name=name))
    return named


def listeners(config: pgqrs.Config) -> list[int]:
    """Return the pids of this test's LISTEN connections."""
    name = conninfo.conninfo_to_dict(config.dsn)["application_name"]
    with support.connect(config.dsn) as connection:
        rows = connection.execute(LISTENING, (f'LISTEN "{_notify.CHANNEL}"', name)).fetchall()
    return [int(row[0]) for row in rows]


def enqueue_and_notify(dsn: str, schema: str, queue_id: int, n: int) -> None:
    """Insert a message and notify in one transaction, as an enqueue does."""
    with support.connect(dsn) as connection, connection.transaction():
        connection.execute(
            f'INSERT INTO "{schema}".pgqrs_messages (queue_id, payload) VALUES (%s, %s)',
            (queue_id, f'{{"n": {n}}}'),
        )
        connection.execute(
            "SELECT pg_notify(%s, %s)", (_notify.CHANNEL, _notify.wake_payload(schema, queue_id))
        )


def prepare(config: pgqrs.Config) -> int:
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        return admin.create_queue("woken").id


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    return harness.wait_until(condition, timeout, what)


def test_sync_worker_wakes_on_notify_and_after_its_listener_is_killed(
    named: pgqrs.Config, dsn: str, direct_dsn: str
) -> None:
    config = named
    queue_id = prepare(config)
    handled: list[int] = []
    app = sync.App()

    @app.handler("woken")
    def work(message: sync.QueueMessage) -> None:
        handled.append(message.payload["n"])

    runner = threading.Thread(target=app.run, args=(config.replace(poll_interval=SLOW_POLL),), daemon=True)
    runner.start()
    try:
        wait_for(lambda: bool(listeners(named)), "the runtime to LISTEN")
        time.sleep(0.2)  # the first poll after start is over
        enqueue_and_notify(dsn, config.schema, queue_id, 1)
        wait_for(lambda: handled == [1], "the notified message to be handled")
        assert harness.terminate(direct_dsn, listeners(named)) == 1
        wait_for(lambda: bool(listeners(named)), "the listener to reconnect")
        time.sleep(0.2)
        enqueue_and_notify(dsn, config.schema, queue_id, 2)
        wait_for(lambda: handled == [1, 2], "a message notified after the reconnect")
    finally:
        app.stop()
        runner.join(30)
    assert not runner.is_alive()


async def test_async_worker_wakes_on_notify(named: pgqrs.Config, dsn: str) -> None:
    config = named
    queue_id = prepare(config)
    handled: list[int] = []
    app = pgqrs.App()

    @app.handler("woken")
    async def work(message: pgqrs.QueueMessage) -> None:
        handled.append(message.payload["n"])

    running = asyncio.create_task(app.run(config.replace(poll_interval=SLOW_POLL)))
    try:
        await asyncio.to_thread(wait_for, lambda: bool(listeners(named)), "the runtime to LISTEN")
        await asyncio.sleep(0.2)
        await asyncio.to_thread(enqueue_and_notify, dsn, config.schema, queue_id, 1)
        await asyncio.to_thread(wait_for, lambda: handled == [1], "the notified message to be handled")
    finally:
        app.stop()  # from the loop's own thread
    stats = await asyncio.wait_for(running, 30)
    assert stats.succeeded == 1


def test_stop_from_another_thread_ends_an_async_run(config: pgqrs.Config) -> None:
    prepare(config)
    app = pgqrs.App()

    @app.handler("woken")
    async def work(message: pgqrs.QueueMessage) -> None: ...

    timer = threading.Timer(0.5, app.stop)
    timer.start()
    started = time.monotonic()
    stats = asyncio.run(app.run(config.replace(poll_interval=SLOW_POLL)))
    assert stats.handled == 0 and time.monotonic() - started < 20


@pytest.mark.parametrize("setting", [{"pooler": "transaction"}])
def test_behind_a_transaction_pooler_the_runtime_only_polls(
    named: pgqrs.Config, dsn: str, setting: dict[str, Any]
) -> None:
    config = named
    queue_id = prepare(config)
    handled: list[int] = []
    app = sync.App()

    @app.handler("woken")
    def work(message: sync.QueueMessage) -> None:
        handled.append(message.payload["n"])

    polling = config.replace(poll_interval=0.2, listen_dsn=None, **setting)
    runner = threading.Thread(target=app.run, args=(polling,), daemon=True)
    before = set(listeners(named))
    runner.start()
    try:
        enqueue_and_notify(dsn, config.schema, queue_id, 1)
        wait_for(lambda: handled == [1], "the message to be found by polling")
        assert set(listeners(named)) <= before  # no LISTEN through a transaction pooler
    finally:
        app.stop()
        runner.join(30)


def test_a_listen_dsn_is_used_behind_a_pooler(named: pgqrs.Config, dsn: str) -> None:
    config = named
    queue_id = prepare(config)
    handled: list[int] = []
    app = sync.App()

    @app.handler("woken")
    def work(message: sync.QueueMessage) -> None:
        handled.append(message.payload["n"])

    direct = config.listen_dsn or config.dsn  # the named fixture's direct DSN behind a pooler
    settings = config.replace(poll_interval=SLOW_POLL, pooler="transaction", listen_dsn=direct)
    runner = threading.Thread(target=app.run, args=(settings,), daemon=True)
    runner.start()
    try:
        wait_for(lambda: bool(listeners(named)), "the runtime to LISTEN on listen_dsn")
        time.sleep(0.2)
        enqueue_and_notify(dsn, config.schema, queue_id, 7)
        wait_for(lambda: handled == [7], "the notified message to be handled")
    finally:
        app.stop()
        runner.join(30)

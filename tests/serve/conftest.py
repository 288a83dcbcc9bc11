"""Fixtures for the dashboard tests: the app served by uvicorn on a free loopback port.

The server runs in a thread of the test process (its own event loop) against the real test
database; the tests speak HTTP to it with httpx and prepare and check the database with the
blocking API.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from pgqrs import serve, sync

TOKEN = "test-token-4f9c2e"
Client = Callable[..., httpx.Client]


def free_port() -> int:
    """Return a TCP port nothing listens on now (loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(config: sync.Config, settings: serve.ServeSettings) -> Iterator[str]:
    """Serve the dashboard in a thread; yield its base URL; stop it on exit."""
    port = free_port()
    app = serve.create_app(config, settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="pgqrs serve (test)", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def admin(config: sync.Config) -> Iterator[sync.PgqrsAdmin]:
    """Return a blocking admin on the test's schema, pgqrs installed."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        yield admin


@pytest.fixture
def client_for(config: sync.Config) -> Iterator[Client]:
    """Return a function serving the dashboard (ServeSettings as keyword arguments; `config`
    to point it elsewhere) and returning an HTTP client of it."""
    with contextlib.ExitStack() as stack:

        def start(config: sync.Config = config, **settings: Any) -> httpx.Client:
            # Fresh numbers on every request: the tests change the database between them.
            settings = {"overview_cache_seconds": 0.0, "throughput_cache_seconds": 0.0, **settings}
            base = stack.enter_context(serving(config, serve.ServeSettings(**settings)))
            return stack.enter_context(httpx.Client(base_url=base, timeout=30))

        yield start


@pytest.fixture
def client(client_for: Client) -> httpx.Client:
    """Return a client of a read-only dashboard."""
    return client_for()


@pytest.fixture
def acting(client_for: Client) -> httpx.Client:
    """Return a client of a dashboard that allows actions (token TOKEN)."""
    return client_for(allow_actions=True, token=TOKEN)


def bury(admin: sync.PgqrsAdmin, queue: str, count: int, error: str = "ValueError: bad input") -> None:
    """Enqueue `count` messages on `queue` (created if needed) and dead-letter each of them."""
    info = admin.create_queue(queue, exist_ok=True)
    sync.Producer(admin.pool, info, admin.config).batch_enqueue([{"n": n} for n in range(count)])
    with sync.Consumer(admin.pool, info, admin.config) as consumer:
        leased = consumer.dequeue_batch(count)
        consumer.dead_letter_batch([(message.id, "gave up", error) for message in leased])

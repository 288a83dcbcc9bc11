"""The few primitives that differ between the async source and its generated sync twin.

Hand-written on both sides (tools/unasync.py skips this file): here tasks of one event loop,
in pgqrs._sync._compat threads. The worker runtime is written against these names only.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from psycopg import AsyncConnection

from pgqrs import _caller, errors

Lock = asyncio.Lock
Event = asyncio.Event
Handle = asyncio.Task[Any]
# Raised inside a handler that shutdown stops; threads cannot be stopped, so the sync twin's
# is an exception nothing raises.
Cancelled = asyncio.CancelledError
# How often a task looks at a thread's event: waits for one are rare and short (a cancel).
_EVENT_POLL_SECONDS = 0.005


async def sleep(seconds: float) -> None:
    """Wait without blocking other tasks."""
    await asyncio.sleep(seconds)


class ThreadLock:
    """Guards state shared with handler threads; on one event loop there is nothing to guard."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; return whether it was set."""
    if event.is_set():
        return True
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def wait_thread_event(event: threading.Event, seconds: float) -> bool:
    """Wait up to `seconds` for a thread to set `event`, without blocking other tasks."""
    deadline = time.monotonic() + seconds
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(_EVENT_POLL_SECONDS)
    return event.is_set()


def spawn(function: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str) -> Handle:
    """Run `function(*args)` concurrently (a task)."""
    return asyncio.get_running_loop().create_task(function(*args), name=name)


async def join(handles: Iterable[Handle], timeout: float | None) -> list[Handle]:
    """Wait up to `timeout` seconds for `handles` to finish; return those still running."""
    pending = [handle for handle in handles if not handle.done()]
    if not pending:
        return []
    _done, still = await asyncio.wait(pending, timeout=timeout)
    return list(still)


def cancel(handle: Handle) -> None:
    """Ask a running handler to stop (it sees `Cancelled`)."""
    handle.cancel()


class HandlerPool:
    """Runs handler invocations, at most `size` at a time (the caller counts its slots)."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name

    def submit(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Handle:
        """Start `function(*args)`; return its handle."""
        return spawn(function, *args, name=self.name)

    def close(self) -> None:
        """Release the pool (tasks need nothing)."""


class Signal:
    """A flag that any thread, task or signal handler may raise, waking the waiters of a loop."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Attach to the running loop (called by the runtime when it starts)."""
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        """Raise the flag, from this loop or from anywhere else."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self.event.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self.event.set)

    def is_set(self) -> bool:
        """Return whether the flag is raised."""
        return self.event.is_set()


def check_handler(function: Callable[..., Any]) -> None:
    """Refuse a handler the async runtime cannot await."""
    if not inspect.iscoroutinefunction(function):
        raise errors.ValidationError(
            f"handler {getattr(function, '__qualname__', function)!r} is not an async function; "
            "use pgqrs.sync.App for plain functions"
        )


def run_blocking(function: Callable[..., Any], *args: Any) -> Any:
    """Return the coroutine running a blocking call on a thread (the sync twin calls it)."""
    return asyncio.to_thread(function, *args)


async def driver_connection(connection: object) -> AsyncConnection[Any]:
    """Return the psycopg connection of a caller's `connection=`: a psycopg AsyncConnection, or
    a SQLAlchemy AsyncSession or AsyncConnection on psycopg (its transaction: never ended here).

    Raises:
        ValidationError: Any other object (a blocking connection, another driver).
    """
    kind = _caller.sqlalchemy_kind(connection)
    if kind == "async session":
        connection = await connection.connection()  # type: ignore[attr-defined]
        kind = "async connection"
    if kind == "async connection":
        if not connection.in_transaction():  # type: ignore[attr-defined]
            # What SQLAlchemy's autobegin does on its own execute: else its commit() would
            # not know of this statement, and end nothing (it rolls back on close).
            await connection.begin()  # type: ignore[attr-defined]
        pooled = await connection.get_raw_connection()  # type: ignore[attr-defined]
        connection = pooled.driver_connection
    if not isinstance(connection, AsyncConnection):
        raise _caller.wrong_connection(
            connection, "a psycopg AsyncConnection or a SQLAlchemy AsyncSession / AsyncConnection"
        )
    return connection

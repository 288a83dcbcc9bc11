"""The few primitives that differ between the async source and its generated sync twin.

Hand-written (not generated): the blocking counterparts of pgqrs._async._compat. Tasks become
threads; handlers run on a thread pool; a handler cannot be stopped once running.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pgqrs import errors

from psycopg import Connection

from pgqrs import _caller

Lock = threading.Lock
Event = threading.Event
Handle = Any  # a threading.Thread, or a concurrent.futures.Future of the handler pool


class Cancelled(BaseException):
    """Never raised: a thread cannot be cancelled (its handler is abandoned instead)."""


def sleep(seconds: float) -> None:
    """Block the calling thread."""
    time.sleep(seconds)


# Guards state shared with handler threads.
ThreadLock = threading.Lock


def wait_event(event: threading.Event, timeout: float | None) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; return whether it was set."""
    return event.wait(timeout)


def wait_thread_event(event: threading.Event, seconds: float) -> bool:
    """Block up to `seconds` for another thread to set `event`."""
    return event.wait(max(0.0, seconds))


def spawn(function: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
    """Run `function(*args)` concurrently (a daemon thread)."""
    thread = threading.Thread(target=function, args=args, name=name, daemon=True)
    thread.start()
    return thread


def join(handles: Iterable[Handle], timeout: float | None) -> list[Handle]:
    """Wait up to `timeout` seconds for `handles` to finish; return those still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = list(handles)
    futures = [handle for handle in pending if isinstance(handle, concurrent.futures.Future)]
    if futures:
        concurrent.futures.wait(futures, timeout=timeout)
    for handle in pending:
        if isinstance(handle, threading.Thread):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            handle.join(left)
    return [handle for handle in pending if _running(handle)]


def _running(handle: Handle) -> bool:
    if isinstance(handle, concurrent.futures.Future):
        return not handle.done()
    return bool(handle.is_alive())


def cancel(handle: Handle) -> None:
    """Nothing can stop a running thread: its handler is abandoned (the runtime gives its
    message back and ignores what it returns)."""


class HandlerPool:
    """Runs handler invocations on `size` daemon threads.

    Daemon threads, unlike a ThreadPoolExecutor's: a handler the runtime gave up on at shutdown
    (it cannot be stopped) must not keep the process alive once `run` has returned, or a
    stopped worker would go on running it while its lease ends and another worker takes it.
    """

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._work: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}_{index}", daemon=True) for index in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, function: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Start `function(*args)` on a pool thread; return its future."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._work.put((future, function, args))
        return future

    def _serve(self) -> None:
        while (job := self._work.get()) is not None:
            future, function, args = job
            if self._closed:
                future.cancel()  # submitted but not started before close: never started
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = function(*args)
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)
            else:
                future.set_result(result)

    def close(self) -> None:
        """Let the pool's threads end when their handlers return (an abandoned one may not)."""
        self._closed = True
        for _ in self._threads:
            self._work.put(None)


_Job = tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]]


class Signal:
    """A flag that any thread or signal handler may raise."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def bind(self) -> None:
        """Nothing to attach to without an event loop."""

    def set(self) -> None:
        """Raise the flag, from any thread or a signal handler.

        From a short thread of its own: a signal handler runs in the main thread between two
        bytecodes, possibly while that thread holds the event's lock (inside `Event.wait`), and
        setting it there would wait for that lock for ever.
        """
        threading.Thread(target=self.event.set, name="pgqrs-stop", daemon=True).start()

    def is_set(self) -> bool:
        """Return whether the flag is raised."""
        return self.event.is_set()


def check_handler(function: Callable[..., Any]) -> None:
    """Refuse a handler the blocking runtime cannot call."""
    if inspect.iscoroutinefunction(function):
        raise errors.ValidationError(
            f"handler {getattr(function, '__qualname__', function)!r} is an async function; "
            "use pgqrs.App (the async runtime) for it"
        )


def run_blocking(function: Callable[..., Any], *args: Any) -> Any:
    """Call `function(*args)` (already on a thread of its own)."""
    return function(*args)


def driver_connection(connection: object) -> Connection[Any]:
    """Return the psycopg connection of a caller's `connection=`: a psycopg Connection, or a
    SQLAlchemy Session or Connection on psycopg (its transaction: never ended here).

    Raises:
        ValidationError: Any other object (an async connection, another driver).
    """
    kind = _caller.sqlalchemy_kind(connection)
    if kind == "session":
        connection = connection.connection()  # type: ignore[attr-defined]
        kind = "connection"
    if kind == "connection":
        if not connection.in_transaction():  # type: ignore[attr-defined]
            # What SQLAlchemy's autobegin does on its own execute: else its commit() would
            # not know of this statement, and end nothing (it rolls back on close).
            connection.begin()  # type: ignore[attr-defined]
        connection = connection.connection.driver_connection  # type: ignore[attr-defined]
    if not isinstance(connection, Connection):
        raise _caller.wrong_connection(
            connection, "a psycopg Connection or a SQLAlchemy Session / Connection"
        )
    return connection

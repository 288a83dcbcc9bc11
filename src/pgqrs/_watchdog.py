"""Client-side deadline for database calls, shared by the async and the sync API.

A statement the client stops waiting for does not stop on the server: blocked on a lock, it would
commit once the lock goes, after its caller was told it failed. So at a call's deadline the
watchdog cancels it on the server first, with PostgreSQL's cancel request, sent from a
short-lived thread of its own (one slow cancel must not hold up the deadlines of other calls).
The server confirms the cancel by closing the cancel connection once it has signalled the
backend; the call then ends with an error saying the statement was cancelled (57014).

A server that cannot be reached at all (a frozen network path, a hung proxy) would leave libpq
waiting on a socket forever, and cannot take a cancel either: a call still running
`CANCEL_GRACE_SECONDS` after its deadline has its socket shut down, so the blocked read returns
and the call fails instead of hanging. Its outcome is then unknown to the client.

In-flight calls are few (at most the pool size), so a periodic scan is cheap.
"""

from __future__ import annotations

import functools
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from psycopg import capabilities, pq

_SCAN_INTERVAL_SECONDS = 0.2
# Time for the server to take a cancel and for the call to come back with its error: a few
# milliseconds usually (one connection, one signal), a second on a busy server or a slow link.
CANCEL_GRACE_SECONDS = 1.0


class _Connection(Protocol):
    @property
    def pgconn(self) -> pq.abc.PGconn: ...

    def fileno(self) -> int: ...


class Call:
    """One call under a deadline, and how far the watchdog went with it."""

    __slots__ = ("confirmed", "connection", "deadline", "fired", "settled", "shut_down")

    def __init__(self, connection: _Connection, deadline: float) -> None:
        self.connection = connection
        self.deadline = deadline
        self.fired = False  # the deadline passed: a cancel was requested
        self.confirmed = False  # the server took the cancel
        self.shut_down = False  # the socket was shut down: the call's outcome is unknown
        self.settled: threading.Event | None = None  # set when the cancel attempt is over


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: set[Call] = set()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, connection: _Connection, seconds: float) -> Call:
        call = Call(connection, time.monotonic() + seconds)
        with self._lock:
            self._calls.add(call)
            self._ensure_thread()
        return call

    def disarm(self, call: Call) -> Call | None:
        """Forget a call; return it if its deadline fired (its connection needs settling)."""
        with self._lock:
            self._calls.discard(call)
        return call if call.fired else None

    def _ensure_thread(self) -> None:
        # A forked child inherits the set but not the thread: start one of its own.
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="pgqrs-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(_SCAN_INTERVAL_SECONDS)
            now = time.monotonic()
            with self._lock:
                # Under the lock a registered call is still running, so the connection still
                # belongs to it and not to a later user of the same pooled connection.
                for call in [call for call in self._calls if now >= call.deadline]:
                    if call.fired:
                        self._give_up(call)
                    else:
                        self._fire(call, now)

    def _fire(self, call: Call, now: float) -> None:
        call.fired = True
        call.deadline = now + CANCEL_GRACE_SECONDS
        call.settled = threading.Event()
        try:
            # Prepared here, under the lock, while the call surely runs: the cancel must target
            # its backend, not that of a later user of the same pooled connection.
            send = _cancel_request(call.connection)
            threading.Thread(target=self._cancel, args=(call, send), name="pgqrs-cancel", daemon=True).start()
        except Exception:
            # No cancel can be sent (a broken connection, no thread to spare): stop waiting now.
            self._give_up(call)
            call.settled.set()

    def _cancel(self, call: Call, send: Callable[[float], bool]) -> None:
        confirmed = send(CANCEL_GRACE_SECONDS)
        with self._lock:
            call.confirmed = confirmed
            if not confirmed and call in self._calls:
                self._give_up(call)  # the server cannot be reached: do not wait out the grace
        assert call.settled is not None
        call.settled.set()

    def _give_up(self, call: Call) -> None:
        """Shut down a running call's socket (under the lock), so its blocked read returns."""
        self._calls.discard(call)
        call.shut_down = True
        _shut_down(call.connection)


def _cancel_request(connection: _Connection) -> Callable[[float], bool]:
    """Prepare a cancel of the connection's backend; the result sends it and says if it was taken."""
    if capabilities.has_cancel_safe():
        return functools.partial(_send, connection.pgconn.cancel_conn())
    return functools.partial(_send_blocking, connection.pgconn.get_cancel())


def _send(request: pq.abc.PGcancelConn, seconds: float) -> bool:
    """Send a libpq 17 cancel request; return True once the server took it, within `seconds`."""
    try:
        request.start()
        return _poll(request, time.monotonic() + seconds)
    except Exception:
        return False
    finally:
        request.finish()


def _send_blocking(request: pq.abc.PGcancel, seconds: float) -> bool:
    """Send a cancel request with libpq < 17, which has no timeout (the call's grace still holds)."""
    try:
        request.cancel()
    except Exception:
        return False
    return True


def _poll(request: pq.abc.PGcancelConn, deadline: float) -> bool:
    """Drive a started libpq 17 cancel connection until the server closes it (or the deadline)."""
    with selectors.DefaultSelector() as selector:
        while True:
            status = request.poll()
            if status == pq.PollingStatus.OK:
                return True
            if status not in (pq.PollingStatus.READING, pq.PollingStatus.WRITING):
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            events = selectors.EVENT_READ if status == pq.PollingStatus.READING else selectors.EVENT_WRITE
            selector.register(request.socket, events)
            selector.select(remaining)
            selector.unregister(request.socket)


def _shut_down(connection: _Connection) -> None:
    try:
        duplicate = socket.socket(fileno=os.dup(connection.fileno()))
    except (OSError, ValueError, AttributeError):
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        duplicate.close()


_watchdog = _Watchdog()
arm = _watchdog.arm
disarm = _watchdog.disarm

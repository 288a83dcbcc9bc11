"""Client-side deadline for database calls, shared by the async and the sync API.

A server that stops answering (a frozen network path, a hung proxy) leaves libpq waiting on a
socket forever: neither connect_timeout nor a server-side statement_timeout can help. Each call
registers its connection here; a daemon thread shuts down the socket of any call still running
after its deadline, so the blocked read returns and the call fails with an error instead of
hanging. In-flight calls are few (at most the pool size), so a periodic scan is cheap.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from typing import Protocol

_SCAN_INTERVAL_SECONDS = 0.2


class _HasSocket(Protocol):
    def fileno(self) -> int: ...


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, tuple[float, _HasSocket]] = {}
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, connection: _HasSocket, seconds: float) -> int:
        token = next(self._tokens)
        deadline = time.monotonic() + seconds
        with self._lock:
            self._calls[token] = (deadline, connection)
            self._ensure_thread()
        return token

    def disarm(self, token: int) -> bool:
        """Forget a call; return True if its deadline had fired."""
        with self._lock:
            self._calls.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
        return False

    def _ensure_thread(self) -> None:
        # A forked child inherits the dict but not the thread: start one of its own.
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="pgqrs-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(_SCAN_INTERVAL_SECONDS)
            now = time.monotonic()
            with self._lock:
                # Under the lock a registered call is still running, so the socket still belongs
                # to it and not to a later user of the same pooled connection.
                for token, (deadline, connection) in list(self._calls.items()):
                    if now >= deadline:
                        del self._calls[token]
                        self._fired.add(token)
                        _shut_down(connection)


def _shut_down(connection: _HasSocket) -> None:
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

"""Wake-ups: an enqueue tells idle workers of its queue, through NOTIFY, that work arrived.

The enqueue statement itself calls ``pg_notify(CHANNEL, wake_payload(schema, queue_id))``, so the
notification is delivered when (and only if) the enqueue commits: a rolled-back enqueue, in the
caller's own transaction too, wakes nobody. Every pgqrs schema of a database shares the channel;
a worker keeps the notifications of its own schema and queues.

A notifying commit takes a lock global to the database server (NOTIFY keeps notifications in
commit order), so producers notify at most once per THROTTLE_SECONDS per queue in a process
(`Throttle`). An enqueue that skipped its notification always follows one sent less than
THROTTLE_SECONDS earlier; a worker woken by that one looks again THROTTLE_SECONDS later, so
the skipped enqueue waits at most that long (pure code: no I/O here).
"""

from __future__ import annotations

import threading
import time

CHANNEL = "pgqrs"
THROTTLE_SECONDS = 0.01
_SEPARATOR = " "


def wake_payload(schema: str, queue_id: int) -> str:
    """Return the NOTIFY payload that wakes the workers of queue `queue_id` in `schema`."""
    return f"{schema}{_SEPARATOR}{queue_id}"


def parse_wake(payload: str) -> tuple[str, int] | None:
    """Return (schema, queue id) from a NOTIFY payload, or None when it is not a pgqrs wake-up."""
    schema, separator, queue = payload.rpartition(_SEPARATOR)
    if not separator or not queue.isdigit():
        return None
    return schema, int(queue)


class Throttle:
    """Says whether an enqueue should notify: at most once per `interval` seconds per key.

    Shared by every producer of a process (`THROTTLE`); safe to call from many threads.
    """

    def __init__(self, interval: float = THROTTLE_SECONDS) -> None:
        self.interval = interval
        self._last: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def due(self, schema: str, queue_id: int) -> bool:
        """Return True (and start a new interval) when no notification was sent in this one."""
        now = time.monotonic()
        key = (schema, queue_id)
        with self._lock:
            if now - self._last.get(key, float("-inf")) < self.interval:
                return False
            self._last[key] = now
            return True


THROTTLE = Throttle()
